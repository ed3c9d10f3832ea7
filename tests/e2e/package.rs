//! The Debian package and its systemd unit: `cargo deb` builds the .deb from the test build's
//! binary, and the test lists and checks what it installs, its conffiles and maintainer
//! scripts, and has `systemd-analyze verify` check the unit as installed. Needs cargo-deb,
//! dpkg-deb and systemd-analyze (scripts/test.sh installs them); without them it says it
//! skipped, unless `OTSENSOR_REQUIRE_TEST_INPUTS=1` (CI), where that is a failure.

use std::process::Command;

use crate::util::*;

fn tool_missing(what: &str) {
    skip(&format!("{what} not installed (run scripts/test.sh)"));
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn debian_package_and_systemd_unit() {
    for (tool, arg) in [
        ("cargo-deb", "--version"),
        ("dpkg-deb", "--version"),
        ("systemd-analyze", "--version"),
    ] {
        if !Command::new(tool)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return tool_missing(tool);
        }
    }
    let scratch = Scratch::new("deb");
    // The binary under test (a debug build) stands in for the release one.
    let profile_dir = bin().parent().unwrap().to_path_buf();
    let deb = scratch.path("otsensor.deb");
    output(
        Command::new("cargo")
            .current_dir(root())
            .args([
                "deb",
                "-p",
                "otsensor",
                "--no-build",
                "--no-strip",
                "--profile",
            ])
            .arg(if profile_dir.ends_with("release") {
                "release"
            } else {
                "dev"
            })
            .arg("--output")
            .arg(&deb),
    );
    let contents = output(Command::new("dpkg-deb").arg("-c").arg(&deb));
    let files: Vec<&str> = contents
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    for want in [
        "./usr/bin/otsensor",
        "./etc/otsensor/otsensor.toml",
        "./etc/default/otsensor",
        "./usr/share/doc/otsensor/README.md",
    ] {
        assert!(
            files.contains(&want),
            "{want} not in the package:\n{contents}"
        );
    }
    let unit = files
        .iter()
        .find(|f| f.ends_with("systemd/system/otsensor.service"))
        .unwrap_or_else(|| panic!("no unit in the package:\n{contents}"));
    assert!(contents
        .lines()
        .any(|l| l.starts_with("-rwxr-xr-x") && l.ends_with("./usr/bin/otsensor")));
    // Control: the config files are conffiles; the user is created on install.
    let control = scratch.path("control");
    output(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    assert!(
        conffiles
            .lines()
            .any(|l| l == "/etc/otsensor/otsensor.toml"),
        "{conffiles}"
    );
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    assert!(
        postinst.contains("adduser --system") && postinst.contains("otsensor"),
        "{postinst}"
    );
    assert!(
        !postinst.contains("#DEBHELPER#"),
        "the systemd snippets were not inserted"
    );
    assert!(
        postinst.contains("/usr/share/otsensor/make-console-cert /etc/otsensor otsensor"),
        "{postinst}"
    );
    let fields = output(
        Command::new("dpkg-deb")
            .arg("-f")
            .arg(&deb)
            .args(["Package", "Depends"]),
    );
    assert!(
        fields.contains("Package: otsensor") && fields.contains("libpcap"),
        "{fields}"
    );
    // The installed config is the documented example, and valid.
    let root_dir = scratch.path("root");
    output(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root_dir));
    let etc = root_dir.join("etc/otsensor/otsensor.toml");
    assert_eq!(
        std::fs::read_to_string(&etc).unwrap(),
        std::fs::read_to_string(root().join("config/example.toml")).unwrap()
    );
    output(Command::new(bin()).args(["config", "check"]).arg(&etc));
    // The console's TLS pair as postinst makes it (into a scratch directory, group root),
    // once: a second run keeps it. The console serves HTTPS with it.
    let make = root_dir.join("usr/share/otsensor/make-console-cert");
    let tls = scratch.path("tls");
    std::fs::create_dir_all(&tls).unwrap();
    for _ in 0..2 {
        output(Command::new(&make).arg(&tls).arg("root"));
    }
    let meta = |f: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(tls.join(f)).unwrap().permissions().mode() & 0o777
    };
    assert_eq!((meta("console.key"), meta("console.crt")), (0o640, 0o644));
    crate::console::serves_https_with(&tls.join("console.crt"), &tls.join("console.key"));
    // The unit as installed: hardening and capabilities, and systemd's own verdict.
    let unit_path = root_dir.join(unit.trim_start_matches("./"));
    let text = std::fs::read_to_string(&unit_path).unwrap();
    for want in [
        "User=otsensor",
        "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/otsensor",
        "PrivateTmp=yes",
        "Restart=on-failure",
    ] {
        assert!(
            text.lines().any(|l| l == want),
            "{want} not in the unit:\n{text}"
        );
    }
    // systemd-analyze checks that the executables exist: the binary under test stands in for
    // /usr/bin/otsensor (the package is not installed on the test machine).
    let check_dir = scratch.path("unit");
    std::fs::create_dir_all(&check_dir).unwrap();
    let check = check_dir.join("otsensor.service");
    std::fs::write(
        &check,
        text.replace("/usr/bin/otsensor", bin().to_str().unwrap()),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&check)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "systemd-analyze verify: {err}"
    );
}
