//! Containers' names: claimed by creating a link (`names/NAME` -> id), atomically;
//! moved (rename, removal) under a flock on the names' directory, so that none is
//! taken twice, lost, or left behind. And Docker-style random names: an adjective
//! and a surname, `focused_turing`.

use std::fs;
use std::io;
use std::path::Path;

use super::{io_err, ContainerError, Containers};

impl Containers {
    pub(super) fn claim_name(
        &self,
        name: Option<&str>,
        id: &str,
    ) -> Result<String, ContainerError> {
        Ok(match name {
            Some(n) => {
                let n = n.trim_start_matches('/');
                if !valid_name(n) {
                    return Err(ContainerError::BadName(n.to_string()));
                }
                self.claim(n, id)?;
                n.to_string()
            }
            None => loop {
                let n = random_name();
                match self.claim(&n, id) {
                    Ok(()) => break n,
                    Err(ContainerError::NameInUse { .. }) => continue,
                    Err(e) => return Err(e),
                }
            },
        })
    }

    /// Gives container `id` the name `new` instead of its current one, under the
    /// names' lock: two renames (or a rename and a removal) at once leave exactly one
    /// name, the one the record says.
    pub fn rename(&self, id: &str, new: &str) -> Result<(), ContainerError> {
        let new = new.trim_start_matches('/');
        if !valid_name(new) {
            return Err(ContainerError::BadName(new.to_string()));
        }
        let _names = self.lock_names()?;
        let mut spec = self.spec(id)?;
        self.claim_locked(new, id)?;
        let old = std::mem::replace(&mut spec.name, new.to_string());
        if let Err(e) = self.write_spec(&spec) {
            self.release_name(id, new);
            return Err(e);
        }
        self.release_name(id, &old);
        Ok(())
    }

    /// The lock that moving a name takes (held until dropped): a flock on the names'
    /// directory itself.
    pub(super) fn lock_names(&self) -> Result<fs::File, ContainerError> {
        let path = self.root.join("names");
        let f = fs::File::open(&path).map_err(io_err(&path, "open"))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io_err(&path, "lock")(e.into()))?;
        Ok(f)
    }

    pub(super) fn release_name(&self, id: &str, name: &str) {
        let link = self.root.join("names").join(name);
        if fs::read_link(&link)
            .map(|p| p == Path::new(id))
            .unwrap_or(false)
        {
            let _ = fs::remove_file(&link);
        }
    }

    /// Claims `name` for `id`. A name whose directory is gone was left behind (by an
    /// older box: a name is released before its container's directory goes): it is
    /// free, and taken under the names' lock.
    fn claim(&self, name: &str, id: &str) -> Result<(), ContainerError> {
        match self.link_name(name, id)? {
            Some(owner) if self.left_behind(&owner) => {
                let _names = self.lock_names()?;
                self.claim_locked(name, id)
            }
            Some(owner) => Err(in_use(name, owner)),
            None => Ok(()),
        }
    }

    /// [`Containers::claim`] for a caller that holds the names' lock already: taking
    /// it again, on a new descriptor, would wait for ever on the caller's own lock.
    fn claim_locked(&self, name: &str, id: &str) -> Result<(), ContainerError> {
        match self.link_name(name, id)? {
            Some(owner) if self.left_behind(&owner) => {
                // Under the lock no one else removes it, and no one can replace it.
                let _ = fs::remove_file(self.root.join("names").join(name));
                match self.link_name(name, id)? {
                    Some(owner) => Err(in_use(name, owner)),
                    None => Ok(()),
                }
            }
            Some(owner) => Err(in_use(name, owner)),
            None => Ok(()),
        }
    }

    /// Creates `name`'s link to `id`, atomically: `None` once made, else the id the
    /// name leads to now (empty if it cannot be read).
    fn link_name(&self, name: &str, id: &str) -> Result<Option<String>, ContainerError> {
        let link = self.root.join("names").join(name);
        match std::os::unix::fs::symlink(id, &link) {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Some(
                fs::read_link(&link)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )),
            Err(e) => Err(io_err(&link, "claim name")(e)),
        }
    }

    fn left_behind(&self, owner: &str) -> bool {
        !owner.is_empty() && !self.dir(owner).exists()
    }
}

fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

fn in_use(name: &str, owner: String) -> ContainerError {
    ContainerError::NameInUse {
        name: name.to_string(),
        id: owner,
    }
}

const LEFT: &[&str] = &[
    "admiring",
    "adoring",
    "agitated",
    "amazing",
    "angry",
    "awesome",
    "blissful",
    "bold",
    "boring",
    "brave",
    "busy",
    "charming",
    "clever",
    "compassionate",
    "competent",
    "confident",
    "cool",
    "dazzling",
    "determined",
    "eager",
    "ecstatic",
    "elastic",
    "elated",
    "elegant",
    "epic",
    "exciting",
    "fervent",
    "festive",
    "focused",
    "friendly",
    "frosty",
    "funny",
    "gallant",
    "gifted",
    "goofy",
    "gracious",
    "great",
    "happy",
    "hardcore",
    "heuristic",
    "hopeful",
    "hungry",
    "infallible",
    "inspiring",
    "intelligent",
    "jolly",
    "jovial",
    "keen",
    "kind",
    "laughing",
    "loving",
    "lucid",
    "magical",
    "modest",
    "musing",
    "mystifying",
    "naughty",
    "nervous",
    "nice",
    "nifty",
    "nostalgic",
    "objective",
    "optimistic",
    "peaceful",
    "pedantic",
    "pensive",
    "practical",
    "priceless",
    "quirky",
    "quizzical",
    "relaxed",
    "reverent",
    "romantic",
    "sad",
    "serene",
    "sharp",
    "silly",
    "sleepy",
    "stoic",
    "strange",
    "stupefied",
    "suspicious",
    "sweet",
    "tender",
    "thirsty",
    "trusting",
    "upbeat",
    "vibrant",
    "vigilant",
    "vigorous",
    "wizardly",
    "wonderful",
    "xenodochial",
    "youthful",
    "zealous",
    "zen",
];

const RIGHT: &[&str] = &[
    "agnesi",
    "albattani",
    "allen",
    "archimedes",
    "ardinghelli",
    "babbage",
    "banach",
    "bardeen",
    "bartik",
    "bassi",
    "bell",
    "benz",
    "bhabha",
    "bohr",
    "booth",
    "borg",
    "bose",
    "brattain",
    "brown",
    "carson",
    "cerf",
    "chandrasekhar",
    "clarke",
    "colden",
    "cori",
    "curie",
    "darwin",
    "davinci",
    "diffie",
    "dijkstra",
    "dubinsky",
    "easley",
    "einstein",
    "elion",
    "engelbart",
    "euclid",
    "euler",
    "fermat",
    "fermi",
    "feynman",
    "franklin",
    "galileo",
    "gates",
    "goldberg",
    "goldstine",
    "goodall",
    "hamilton",
    "hawking",
    "heisenberg",
    "hermann",
    "hodgkin",
    "hoover",
    "hopper",
    "hypatia",
    "jackson",
    "jang",
    "jennings",
    "johnson",
    "kalam",
    "kepler",
    "khorana",
    "knuth",
    "kowalevski",
    "lalande",
    "lamarr",
    "lamport",
    "leakey",
    "leavitt",
    "lovelace",
    "lumiere",
    "mayer",
    "mccarthy",
    "mcclintock",
    "meitner",
    "mendel",
    "merkle",
    "minsky",
    "mirzakhani",
    "montalcini",
    "morse",
    "napier",
    "nash",
    "newton",
    "nobel",
    "noether",
    "pare",
    "pascal",
    "pasteur",
    "perlman",
    "pike",
    "poincare",
    "ptolemy",
    "raman",
    "ramanujan",
    "ride",
    "ritchie",
    "roentgen",
    "rosalind",
    "saha",
    "sammet",
    "shannon",
    "shaw",
    "shirley",
    "sinoussi",
    "snyder",
    "spence",
    "stonebraker",
    "swanson",
    "swartz",
    "tesla",
    "thompson",
    "torvalds",
    "turing",
    "varahamihira",
    "villani",
    "wescoff",
    "wiles",
    "williams",
    "wilson",
    "wozniak",
    "wright",
    "yalow",
    "yonath",
];

pub fn random_name() -> String {
    let l = LEFT[rand::random_range(0..LEFT.len())];
    let r = RIGHT[rand::random_range(0..RIGHT.len())];
    // Docker never names a container after Wozniak boringly.
    if l == "boring" && r == "wozniak" {
        return random_name();
    }
    format!("{l}_{r}")
}
