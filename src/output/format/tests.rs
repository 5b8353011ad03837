//! The template language against Go's behaviour, and Docker's listings.

use super::*;
use serde_json::json;

fn ctx() -> Value {
    json!({
        "Names": "web",
        "Args": ["sleep", "300"],
        "N": 3,
        "F": 1.5,
        "B": true,
        "Empty": "",
        "Null": null,
        "State": {"Status": "running", "Running": true, "Pid": 42},
        "Config": {"Labels": {"tier": "web", "a": "b"}, "Cmd": ["sh", "-c", "x"], "Env": []},
        "Mounts": [{"Source": "/a", "Destination": "/x"}, {"Source": "/b", "Destination": "/y"}],
    })
}

fn run(t: &str) -> String {
    Template::parse(t)
        .unwrap_or_else(|e| panic!("{t}: {e}"))
        .execute(&ctx(), &no_methods)
        .unwrap_or_else(|e| panic!("{t}: {e}"))
}

fn parse_error(t: &str) -> String {
    Template::parse(t).unwrap_err().to_string()
}

fn exec_error(t: &str) -> String {
    Template::parse(t)
        .unwrap()
        .execute(&ctx(), &no_methods)
        .unwrap_err()
        .to_string()
}

#[test]
fn fields_and_values_print_as_go_does() {
    assert_eq!(run("{{.Names}}"), "web");
    assert_eq!(run("x {{ .State.Status }} y"), "x running y");
    assert_eq!(run("{{.Args}}"), "[sleep 300]");
    assert_eq!(run("{{.Config.Labels}}"), "map[a:b tier:web]");
    assert_eq!(run("{{.State}}"), "{running true 42}");
    assert_eq!(run("{{.N}} {{.F}} {{.B}} {{.Null}}"), "3 1.5 true <nil>");
    assert_eq!(run("{{.Config.Labels.nope}}"), "<no value>");
    assert_eq!(run("{{.Config.Labels.tier}}"), "web");
    assert_eq!(run("{{.}}").chars().next(), Some('{'));
    assert_eq!(
        run("{{\"a\\tb\"}}{{`r\\n`}}{{'x'}}{{-1}}{{0x10}}"),
        "a\tbr\\n120-116"
    );
    assert_eq!(run("{{(.State).Status}}"), "running");
}

#[test]
fn missing_struct_fields_are_errors() {
    let e = exec_error("{{.Nmes}}");
    assert_eq!(
        e,
        "template: :1:2: executing \"\" at <.Nmes>: can't evaluate field Nmes in type struct"
    );
    assert!(exec_error("{{.Names.x}}").contains("can't evaluate field x in type string"));
    assert!(exec_error("{{.Names \"x\"}}").contains("cannot be invoked as function"));
}

#[test]
fn control_structures() {
    assert_eq!(
        run("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}"),
        "/a:/x /b:/y "
    );
    assert_eq!(
        run("{{range $i, $m := .Mounts}}{{$i}}={{$m.Source}},{{end}}"),
        "0=/a,1=/b,"
    );
    assert_eq!(
        run("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}"),
        "a=b;tier=web;"
    );
    assert_eq!(run("{{range .Config.Env}}x{{else}}none{{end}}"), "none");
    assert_eq!(
        run("{{range .Args}}{{if eq . \"300\"}}{{break}}{{end}}{{.}}{{end}}"),
        "sleep"
    );
    assert_eq!(
        run("{{range .Args}}{{if eq . \"sleep\"}}{{continue}}{{end}}{{.}}{{end}}"),
        "300"
    );
    assert_eq!(
        run("{{if eq .State.Status \"exited\"}}e{{else if .B}}b{{else}}n{{end}}"),
        "b"
    );
    assert_eq!(run("{{if and .B .Empty}}y{{else}}n{{end}}"), "n");
    assert_eq!(run("{{or .Empty .Names}}"), "web");
    assert_eq!(run("{{if not .Empty}}y{{end}}"), "y");
    assert_eq!(
        run("{{with .State}}{{.Pid}}{{end}}{{with .Empty}}x{{else}}-{{end}}"),
        "42-"
    );
    assert_eq!(
        run("{{$n := .Names}}{{range .Args}}{{$n}}{{end}}"),
        "webweb"
    );
    assert_eq!(run("{{$x := 1}}{{if .B}}{{$x = 2}}{{end}}{{$x}}"), "2");
    assert_eq!(run("{{range .Mounts}}{{$.Names}}{{end}}"), "webweb");
    assert_eq!(run("a {{- \" b \" -}} c"), "a b c");
    assert_eq!(run("a {{/* note */}} b {{- /* x */ -}} c"), "a  bc");
    assert_eq!(
        run("{{lt .N 4}} {{ge .F 2.0}} {{ne .Names \"x\"}} {{eq .N 1 2 3}}"),
        "true false true true"
    );
}

#[test]
fn functions() {
    assert_eq!(run("{{json .}}"), serde_json::to_string(&ctx()).unwrap());
    assert_eq!(
        run("{{json .State}}"),
        r#"{"Status":"running","Running":true,"Pid":42}"#
    );
    assert_eq!(run("{{json .Config.Labels}}"), r#"{"a":"b","tier":"web"}"#);
    assert_eq!(run("{{json .Names}}"), r#""web""#);
    assert_eq!(
        run("{{index .Config.Labels \"tier\"}}|{{index .Config.Labels \"x\"}}"),
        "web|"
    );
    assert_eq!(
        run("{{index .Args 1}} {{index .Mounts 1 | json}}"),
        r#"300 {"Source":"/b","Destination":"/y"}"#
    );
    assert_eq!(run("{{join .Args \",\"}}"), "sleep,300");
    assert_eq!(
        run("{{split \"a:b\" \":\"}} {{len (split \"a:b\" \":\")}}"),
        "[a b] 2"
    );
    assert_eq!(
        run("{{upper .Names}} {{lower \"AB\"}} {{title \"hello big-world\"}}"),
        "WEB ab Hello Big-World"
    );
    assert_eq!(run("{{.Names | upper}}"), "WEB");
    assert_eq!(
        run("{{truncate .Names 2}}|{{truncate .Names 9}}|{{pad .Names 1 2}}|{{pad .Empty 1 1}}"),
        "we|web| web  |"
    );
    assert_eq!(run("{{println .Names}}"), "web\n");
    assert_eq!(run("{{print .N .N \"a\" .N}}"), "3 3a3");
    assert_eq!(
        run("{{len .Args}} {{len .Names}} {{len .Config.Labels}}"),
        "2 3 2"
    );
    assert_eq!(
        run("{{printf \"%-5s|%5s|%3d|%03d|%.2f|%q|%v|%t|%x|%%\" .Names .Names .N .N .F .Names .Args .B 255}}"),
        "web  |  web|  3|003|1.50|\"web\"|[sleep 300]|true|ff|%"
    );
    assert_eq!(run("{{printf \"%d %s\" .N}}"), "3 %!s(MISSING)");
    assert_eq!(run("{{printf \"%s\" .N .B}}"), "3%!(EXTRA bool=true)");
}

#[test]
fn go_builtins_for_text() {
    assert_eq!(
        run("{{slice .Names 0 2}}|{{slice .Names 1}}|{{slice .Names}}"),
        "we|eb|web"
    );
    assert_eq!(
        run("{{slice .Args 1}}|{{slice .Args 0 1 2}}"),
        "[300]|[sleep]"
    );
    assert!(
        exec_error("{{slice .Names 0 9}}").contains("error calling slice: index out of range: 9")
    );
    assert!(exec_error("{{slice .Names 2 1}}").contains("invalid slice index: 2 > 1"));
    assert!(exec_error("{{slice .Names 0 1 2}}").contains("cannot 3-index slice a string"));
    assert!(exec_error("{{slice .N 1}}").contains("can't slice item of type int"));
    assert_eq!(
        run(r#"{{html "<a href='x'>\"&\"</a>"}}"#),
        "&lt;a href=&#39;x&#39;&gt;&#34;&amp;&#34;&lt;/a&gt;"
    );
    assert_eq!(
        run(r#"{{js "it's \"<b>\" a=1\n\\"}}"#),
        r#"it\'s \"\u003Cb\u003E\" a\u003D1\u000A\\"#
    );
    assert_eq!(run(r#"{{urlquery "a b&c=d/é~"}}"#), "a+b%26c%3Dd%2F%C3%A9~");
    assert_eq!(run("{{html .N .Names}}|{{urlquery .N .N}}"), "3web|3+3");
    assert_eq!(run("{{.Names | html}}"), "web");
}

#[test]
fn nil_maps_and_slices_print_as_go_does() {
    let v = json!({
        "Config": {"Labels": null, "Entrypoint": null, "StopTimeout": null, "Cmd": ["sh"]},
        "HostConfig": {"CapAdd": null, "Tmpfs": null},
    });
    let run = |t: &str| {
        Template::parse(t)
            .unwrap()
            .execute(&v, &no_methods)
            .unwrap()
    };
    assert_eq!(
        run("{{.Config.Labels}} {{.Config.Entrypoint}} {{.Config.StopTimeout}} {{.HostConfig.CapAdd}}"),
        "map[] [] <nil> []"
    );
    assert_eq!(run("{{.Config}}"), "{map[] [] <nil> [sh]}");
    assert_eq!(
        run("{{.Config.Labels.x}}|{{index .Config.Labels \"x\"}}"),
        "<no value>|"
    );
    assert_eq!(
        run("{{len .HostConfig.CapAdd}} {{range .Config.Labels}}x{{else}}none{{end}}"),
        "0 none"
    );
    assert_eq!(
        run("{{json .Config.Labels}} {{json .HostConfig.CapAdd}}"),
        "null null"
    );
    assert_eq!(
        run("{{if .Config.Entrypoint}}y{{else}}n{{end}} {{join .Config.Entrypoint \",\"}}."),
        "n ."
    );
    assert_eq!(run("{{eq .Config.StopTimeout nil}}"), "true");
}

#[test]
fn methods_of_the_top_level_value() {
    let t =
        Template::parse("{{.Label \"tier\"}}/{{.Names}}/{{range .Args}}{{$.Label \"x\"}}{{end}}")
            .unwrap();
    let m = |name: &str, args: &[Value]| -> Option<Result<Value, String>> {
        (name == "Label").then(|| Ok(Value::from(format!("L({})", args[0].as_str().unwrap()))))
    };
    assert_eq!(t.execute(&ctx(), &m).unwrap(), "L(tier)/web/L(x)L(x)");
}

#[test]
fn bad_templates() {
    assert_eq!(
        parse_error("{{.Names"),
        "template parsing error: template: :1: unclosed action"
    );
    assert_eq!(
        parse_error("{{nope .Names}}"),
        "template parsing error: template: :1: function \"nope\" not defined"
    );
    assert_eq!(
        parse_error("x\n{{end}}"),
        "template parsing error: template: :2: unexpected {{end}}"
    );
    assert!(parse_error("{{if .B}}x").contains("unexpected EOF"));
    assert!(parse_error("{{if}}x{{end}}").contains("missing value for if"));
    assert!(parse_error("{{break}}").contains("outside {{range}}"));
    assert!(parse_error("{{\"abc}}").contains("unterminated quoted string"));
    assert!(parse_error("{{.A | }}").contains("missing command"));
    assert!(parse_error("{{(.A}}").contains("unclosed left paren"));
    assert!(parse_error("{{.A)}}").contains("unexpected"));
    assert!(parse_error("{{#}}").contains("unexpected '#'"));
    assert!(parse_error("{{template \"x\"}}").contains("not supported"));
    assert!(parse_error("{{/* x }}").contains("unclosed comment"));
    assert!(exec_error("{{index .Args 5}}").contains("index out of range: 5"));
    assert!(exec_error("{{$y}}").contains("undefined variable: $y"));
    assert!(exec_error("{{lt .Names 3}}").contains("incompatible types"));
}

fn rows() -> Vec<Row> {
    let row = |id: &str, name: &str, tier: &str| Row {
        fields: json!({"ID": id, "Names": name, "Status": "Up 1 second"})
            .as_object()
            .unwrap()
            .clone(),
        labels: [("com.x.tier".to_string(), tier.to_string())].into(),
    };
    vec![row("abc", "web", "front"), row("defdef", "db", "back")]
}

const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Names", "NAMES"),
    ("Status", "STATUS"),
];

#[test]
fn listings() {
    let render = |f: &str| {
        Listing::parse(Some(f))
            .unwrap()
            .render(HEADERS, &rows())
            .unwrap()
    };
    assert!(Listing::parse(None).unwrap().is_default());
    assert!(Listing::parse(Some("table")).unwrap().is_default());
    assert_eq!(render("{{.Names}}\\t{{.ID}}"), "web\tabc\ndb\tdefdef\n");
    assert_eq!(render("{{.Label \"com.x.tier\"}}"), "front\nback\n");
    assert_eq!(
        render("json"),
        "{\"ID\":\"abc\",\"Names\":\"web\",\"Status\":\"Up 1 second\"}\n{\"ID\":\"defdef\",\"Names\":\"db\",\"Status\":\"Up 1 second\"}\n"
    );
    assert_eq!(
        render("table {{.ID}}\\t{{upper .Names}}\\t{{.Label \"com.x.tier\"}}"),
        "CONTAINER ID   NAMES   TIER\nabc            WEB     front\ndefdef         DB      back\n"
    );
    assert_eq!(render("table {{.Names}}"), "NAMES\nweb\ndb\n");
    let e = Listing::parse(Some("{{.Names")).unwrap_err().to_string();
    assert_eq!(e, "template parsing error: template: :1: unclosed action");
}

#[test]
fn times_as_go_prints_them() {
    assert_eq!(
        go_time("2026-11-23T12:00:00.123+01:00"),
        "2026-11-23 11:00:00 +0000 UTC"
    );
    assert_eq!(go_time("bad"), "");
}

#[test]
fn objects() {
    let v = ctx();
    assert_eq!(
        Object::parse("json").unwrap().render(&v).unwrap(),
        serde_json::to_string(&v).unwrap() + "\n"
    );
    assert_eq!(
        Object::parse("{{.State.Pid}}").unwrap().render(&v).unwrap(),
        "42\n"
    );
    assert_eq!(
        Object::parse("{{.Names}}\\t").unwrap().render(&v).unwrap(),
        "web\\t\n"
    );
}
