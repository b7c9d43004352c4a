use super::*;

fn p(s: &str) -> TreePath {
    TreePath::new(s).unwrap()
}

fn opts(dir: &Path) -> ListOptions {
    let mut o = ListOptions::new("initramfs.list", dir);
    o.mtime = 1_700_000_000;
    o.env = Some([("FILES".to_owned(), dir.join("files").display().to_string())].into());
    o
}

fn error(text: &str) -> ListError {
    let dir = tempfile::tempdir().unwrap();
    parse_list(text, &opts(dir.path())).unwrap_err()
}

#[test]
fn reads_every_line_type() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("files")).unwrap();
    std::fs::write(dir.path().join("files/init"), b"#!/bin/sh\n").unwrap();
    std::fs::write(dir.path().join("relative"), b"rel").unwrap();
    let text = "# an initramfs\n\
        \n\
        dir /dev 755 0 0\n\
        nod /dev/console 600 0 5 c 5 1\n\
        nod /dev/vda 660 0 6 b 254 0\n\
        dir /sbin 0755 0 0\n\
        file /init ${FILES}/init 755 0 0 /sbin/init /linuxrc\n\
        file /etc/motd relative 644 1000 1000\n\
        slink /bin sbin 777 0 0\n\
        pipe /run/initctl 600 0 0\n\
        sock\t/run/sock   755 0 0\n";
    let tree = parse_list(text, &opts(dir.path())).unwrap();
    let get = |s: &str| tree.get(&p(s)).unwrap_or_else(|| panic!("{s} missing"));
    assert_eq!(get("dev/console").kind, Kind::CharDev { major: 5, minor: 1 });
    assert_eq!((get("dev/console").meta.mode, get("dev/console").meta.gid), (0o600, 5));
    assert_eq!(get("dev/vda").kind, Kind::BlockDev { major: 254, minor: 0 });
    assert_eq!(get("init").kind, Kind::File("#!/bin/sh\n".into()));
    assert_eq!(get("init").meta.mtime, 1_700_000_000);
    assert_eq!(get("sbin/init").kind, Kind::Hardlink(p("init")));
    assert_eq!(get("linuxrc").meta, get("init").meta);
    assert_eq!(get("etc/motd").kind, Kind::File("rel".into()));
    assert_eq!((get("etc/motd").meta.uid, get("etc/motd").meta.mode), (1000, 0o644));
    assert_eq!(get("etc").meta.mode, 0o755, "missing parents are created");
    assert_eq!(get("bin").kind, Kind::Symlink("sbin".into()));
    assert_eq!(get("run/initctl").kind, Kind::Fifo);
    assert_eq!(get("run/sock").kind, Kind::Socket);
}

#[test]
fn errors_point_at_line_and_column() {
    let e = error("dir /dev 755 0 0\n  \nfiel /init init 755 0 0\n");
    assert_eq!(
        e.to_string(),
        "initramfs.list:3:1: unknown type \"fiel\"\nhint: did you mean `file`? The types are file, dir, nod, slink, pipe, sock"
    );
    assert_eq!((e.line, e.column), (3, 1));
    assert_eq!(
        error("dir /dev 7g5 0 0").to_string(),
        "initramfs.list:1:10: mode \"7g5\" is not an octal number\nhint: modes are octal, like 755 or 0644"
    );
    assert_eq!(error("dir /dev 100755 0 0").message, "mode 100755 has bits beyond 7777");
    assert_eq!(
        error("nod /dev/x 600 0 0 x 1 2").to_string(),
        "initramfs.list:1:20: unknown device type \"x\"\nhint: `c` for a character device, `b` for a block device"
    );
    assert_eq!(error("slink /bin 777 0 0").to_string(), "initramfs.list:1:19: `slink` needs 5 fields, this line has 4: <gid> is missing\nhint: slink <name> <target> <mode> <uid> <gid>");
    assert_eq!(
        error("dir /x 755 0 0 extra").to_string(),
        "initramfs.list:1:16: unexpected \"extra\": a `dir` line has 4 fields\nhint: dir <name> <mode> <uid> <gid>"
    );
    assert_eq!(
        error("pipe /p 600 root 0").to_string(),
        "initramfs.list:1:13: uid \"root\" is not a number\nhint: uids are decimal numbers from 0 to 4294967295"
    );
    assert_eq!(error("file /x").message, "`file` needs at least 5 fields, this line has 1: <location> is missing");
    assert_eq!(
        error("dir /../x 755 0 0").to_string(),
        "initramfs.list:1:5: path `/../x` climbs above the root with `..`"
    );
    assert_eq!(error("pipe / 600 0 0").message, "\"/\" names the root, which can only be a `dir`");
    assert_eq!(error("file /a x 644 0 0\nfile /a/b x 644 0 0").line, 1, "first the missing location");
}

#[test]
fn missing_files_explain_the_location() {
    let e = error("file /init ${NOPE}/microroot-no-such-file 755 0 0");
    assert_eq!((e.line, e.column), (1, 12));
    let start = "cannot read \"${NOPE}/microroot-no-such-file\" (/microroot-no-such-file): ";
    assert!(e.message.starts_with(start), "{}", e.message);
    assert_eq!(e.hint.as_deref(), Some("`${NOPE}` is not set, so it expanded to nothing"));
    let dir = tempfile::tempdir().unwrap();
    let e = parse_list("file /init missing 755 0 0", &opts(dir.path())).unwrap_err();
    assert_eq!(e.hint, Some(format!("relative locations are read from {}", dir.path().display())));
}

#[test]
fn expansion_is_gen_init_cpios() {
    let o = ListOptions { env: Some([("A".to_owned(), "x".to_owned())].into()), ..ListOptions::new("l", "/") };
    assert_eq!(expand("${A}/${B}/c${A}", &o), ("x//cx".to_owned(), vec!["B".to_owned()]));
    assert_eq!(expand("${A", &o).0, "${A");
    assert_eq!(expand("$A/{A}", &o).0, "$A/{A}");
}

#[test]
fn render_refuses_names_it_cannot_write() {
    let mut tree = Tree::new();
    tree.insert(&p("a b"), Entry::file(0o644, "x")).unwrap();
    let err = render_list(&tree, "files").unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot list `/a b` for gen_init_cpio: its name contains whitespace or control characters\n\
         hint: the list format separates fields with whitespace; rename the entry"
    );
    let mut tree = Tree::new();
    tree.insert(&p("l"), Entry::symlink("${HOME}")).unwrap();
    assert!(render_list(&tree, "files").unwrap_err().to_string().contains("its target contains `${`"));
    assert!(render_list(&Tree::new(), "my files").is_err());
}
