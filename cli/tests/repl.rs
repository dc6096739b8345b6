//! The REPL, driven through a pseudo-terminal as a user would drive it.

use rexpect::session::{PtySession, spawn_command};

/// Starts `tvix repl` with its history in a fresh directory.
fn start(data_dir: &std::path::Path) -> PtySession {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tvix"));
    cmd.arg("repl").env("XDG_DATA_HOME", data_dir);
    let mut session = spawn_command(cmd, Some(30_000)).expect("tvix repl starts");
    session.exp_string("tvix-repl> ").expect("a prompt");
    session
}

/// Output lines are matched whole (`\r\n` around them): the line editor's
/// escape sequences hold digits too.
fn send(session: &mut PtySession, line: &str) {
    session.send_line(line).expect("the REPL reads a line");
}

#[test]
fn bindings_persist_and_errors_do_not_end_the_session() {
    let data = tempfile::tempdir().expect("a temp dir");
    let mut s = start(data.path());
    send(&mut s, "x = 20");
    s.exp_string("tvix-repl> ")
        .expect("a prompt after a binding");
    send(&mut s, "x + 22");
    s.exp_string("\r\n42\r\n").expect("the binding is in scope");
    send(&mut s, "throw \"boom\"");
    s.exp_string("error: boom").expect("the error is shown");
    send(&mut s, ":t x");
    s.exp_string("an integer").expect("the session goes on");
    send(&mut s, "{ a = 1;");
    send(&mut s, "b = [ 2 ]; }.b");
    s.exp_string("[ 2 ]")
        .expect("input continues while a bracket is open");
    send(&mut s, ":p { a.b = [ 1 ]; }");
    s.exp_string("{ a = { b = [ 1 ]; }; }")
        .expect(":p prints strictly");
    send(&mut s, ":q");
    s.exp_eof().expect(":q exits");
}

#[test]
fn ctrl_c_stops_an_evaluation_not_the_repl() {
    let data = tempfile::tempdir().expect("a temp dir");
    let mut s = start(data.path());
    // Endless recursion ends on its own here (the frame stack is bounded,
    // as in CppNix); a long loop that needs no depth is what Ctrl-C stops.
    send(&mut s, "let f = x: f x; in f 1");
    s.exp_string("max-call-depth exceeded")
        .expect("deep recursion ends");
    send(
        &mut s,
        "builtins.foldl' (a: x: builtins.foldl' (b: y: b + y) a (builtins.genList (z: z) 10000)) 0 (builtins.genList (z: z) 1000000)",
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    s.send_control('c').expect("Ctrl-C is sent");
    s.exp_string("interrupted").expect("the evaluation stops");
    send(&mut s, "1 + 1");
    s.exp_string("\r\n2\r\n").expect("the prompt is back");
    send(&mut s, ":q");
    s.exp_eof().expect(":q exits");
}
