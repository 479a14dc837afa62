//! `palisade scan model`, the real binary: the upstream corpus in ../shared/conformance/model
//! (every file labelled M must exit 1, every B file exit 0; nothing is ever loaded), and the
//! report formats and exit codes on files built here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::Output;

use common::{palisade, root};

fn run(args: &[&str]) -> Output {
    palisade().args(args).output().expect("runs")
}

/// A protocol-0 pickle that calls os.system when loaded (never loaded here).
const SYSTEM: &[u8] = b"cos\nsystem\n(S'echo pwned'\ntR.";
/// A protocol-2 pickle of {'a': 1}: only builtins, nothing to flag.
const BENIGN: &[u8] = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.";

#[test]
fn the_upstream_corpus_exits_as_labelled() {
    let base = root().join("../shared/conformance/model");
    let labels =
        std::fs::read_to_string(base.join("LABELS.tsv")).expect("../shared/conformance/model");
    let (mut m_total, mut m_flagged, mut b_total, mut b_clean) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for line in labels.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (path, label) = (fields[0], fields[1]);
        if label == "S" {
            continue;
        }
        let output = run(&[
            "scan",
            "model",
            base.join(path).to_str().unwrap(),
            "-f",
            "json",
        ]);
        let code = output.status.code();
        match label {
            "M" => {
                m_total += 1;
                if code == Some(1) {
                    m_flagged += 1;
                } else {
                    misses.push(format!("M {path}: exit {code:?}"));
                }
            }
            "B" => {
                b_total += 1;
                if code == Some(0) {
                    b_clean += 1;
                } else {
                    misses.push(format!(
                        "B {path}: exit {code:?} {}",
                        String::from_utf8_lossy(&output.stdout)
                    ));
                }
            }
            _ => {}
        }
    }
    println!("malicious flagged {m_flagged}/{m_total}, benign clean {b_clean}/{b_total}");
    assert!(m_total > 100 && b_total > 25, "the corpus is there");
    assert!(misses.is_empty(), "{}", misses.join("\n"));
}

#[test]
fn findings_name_file_member_offset_and_global() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.pkl"), SYSTEM).unwrap();
    std::fs::write(dir.path().join("benign.pkl"), BENIGN).unwrap();
    let zip_path = dir.path().join("bundle.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    zip.start_file(
        "inner/weights.bin",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(SYSTEM).unwrap();
    zip.finish().unwrap();

    let output = run(&["scan", "model", dir.path().to_str().unwrap(), "-f", "json"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let dangerous: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["severity"] == "dangerous")
        .collect();
    let direct = dangerous
        .iter()
        .find(|f| {
            f["location"]["file"]
                .as_str()
                .unwrap()
                .ends_with("model.pkl")
        })
        .expect("model.pkl flagged");
    assert_eq!(direct["global"], "os.system");
    assert_eq!(
        direct["location"]["offset"], 0,
        "the GLOBAL opcode is the first byte"
    );
    let inner = dangerous
        .iter()
        .find(|f| {
            f["location"]["file"]
                .as_str()
                .unwrap()
                .ends_with("bundle.zip")
        })
        .expect("zip member flagged");
    assert_eq!(inner["location"]["members"][0], "inner/weights.bin");
    assert!(
        !findings.iter().any(|f| f["location"]["file"]
            .as_str()
            .unwrap()
            .ends_with("benign.pkl")),
        "the benign pickle has no findings"
    );

    // The benign file alone exits 0; a raised threshold lets suspicious findings through.
    let clean = run(&[
        "scan",
        "model",
        dir.path().join("benign.pkl").to_str().unwrap(),
    ]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );

    // SARIF carries the same results.
    let sarif = run(&["scan", "model", dir.path().to_str().unwrap(), "-f", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        findings.len()
    );

    // The table names the global and the member.
    let table = run(&["scan", "model", dir.path().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("os.system") && text.contains("inner/weights.bin"),
        "{text}"
    );
}

#[test]
fn allowlist_extensions_come_from_the_config_and_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    // A custom class: unknown to the built-in allowlist, so suspicious (not dangerous).
    let custom = b"\x80\x02cmylib.models\nIrisClassifier\nq\x00)\x81q\x01.";
    std::fs::write(dir.path().join("custom.pkl"), custom).unwrap();
    let path = dir.path().join("custom.pkl");
    let strict = run(&[
        "scan",
        "model",
        path.to_str().unwrap(),
        "--fail-on",
        "suspicious",
        "-f",
        "json",
    ]);
    assert_eq!(strict.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&strict.stdout).unwrap();
    assert_eq!(
        report["findings"][0]["global"],
        "mylib.models.IrisClassifier"
    );
    let allowed = run(&[
        "scan",
        "model",
        path.to_str().unwrap(),
        "--fail-on",
        "suspicious",
        "--allow-global",
        "mylib.models.*",
    ]);
    assert_eq!(
        allowed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&allowed.stdout)
    );
    let config = dir.path().join("palisade.yaml");
    std::fs::write(
        &config,
        "models:\n  allowedGlobals: [mylib.models.IrisClassifier]\n",
    )
    .unwrap();
    let by_config = run(&[
        "scan",
        "model",
        path.to_str().unwrap(),
        "--fail-on",
        "suspicious",
        "-c",
        config.to_str().unwrap(),
    ]);
    assert_eq!(by_config.status.code(), Some(0));
    std::fs::write(&config, "models:\n  allowedGlobals: ['os system']\n").unwrap();
    let bad = run(&[
        "scan",
        "model",
        path.to_str().unwrap(),
        "-c",
        config.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("models.allowedGlobals[0]"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn a_file_that_cannot_be_read_exits_2() {
    let output = run(&["scan", "model", "/no/such/model.pkl"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/no/such/model.pkl"));
}

/// Issue 12, item 2: a pickle that calls a global nobody allowed fails the default gate (exit 1);
/// only referenced, the same global is suspicious (exit 0); allowed on the command line, the call
/// is clean.
#[test]
fn hardening_02_a_call_of_an_unknown_global_fails_the_default_gate() {
    let dir = tempfile::tempdir().unwrap();
    // mylib.jobs.run("id"), by GLOBAL + REDUCE (protocol 0) and by STACK_GLOBAL + NEWOBJ.
    let reduce = dir.path().join("reduce.pkl");
    std::fs::write(&reduce, b"cmylib.jobs\nrun\n(S'id'\ntR.").unwrap();
    let newobj = dir.path().join("newobj.pkl");
    std::fs::write(
        &newobj,
        b"\x80\x04\x8c\x0amylib.jobs\x94\x8c\x03Job\x94\x93\x94)\x81\x94.",
    )
    .unwrap();
    // The same global only stored in a dict.
    let referenced = dir.path().join("referenced.pkl");
    std::fs::write(
        &referenced,
        b"\x80\x02}q\x00X\x01\x00\x00\x00fcmylib.jobs\nrun\ns.",
    )
    .unwrap();

    for file in [&reduce, &newobj] {
        let output = run(&["scan", "model", file.to_str().unwrap(), "-f", "json"]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}: {stdout}",
            file.display()
        );
        assert!(stdout.contains("model/unknown-call"), "{stdout}");
    }
    let output = run(&["scan", "model", referenced.to_str().unwrap(), "-f", "json"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("model/unknown-global"), "{stdout}");
    assert!(!stdout.contains("model/unknown-call"), "{stdout}");

    let output = run(&[
        "scan",
        "model",
        reduce.to_str().unwrap(),
        "--allow-global",
        "mylib.jobs.run",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn hardening_11_files_in_no_model_format_are_folded_into_the_summary_in_the_right_number() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "# iris\n").unwrap();
    std::fs::write(dir.path().join("config.yaml"), "threshold: 0.5\n").unwrap();
    std::fs::write(
        dir.path().join("model.pkl"),
        b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.",
    )
    .unwrap();
    let output = common::palisade()
        .args(["scan", "model", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let table = String::from_utf8(output.stdout).unwrap();
    // No block per non-model file: one line in the summary says how many there were.
    assert!(!table.contains("README.md"), "{table}");
    assert!(!table.contains("INFO"), "{table}");
    assert!(table.contains("model.pkl"), "{table}");
    assert!(
        table.contains(
            "3 files scanned, 1 with findings: 1 dangerous, 0 suspicious, 0 info; 2 files in no model format"
        ),
        "{table}"
    );
    // One file is one file.
    let single = common::palisade()
        .args([
            "scan",
            "model",
            dir.path().join("model.pkl").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(single.stdout).unwrap();
    assert!(text.contains("1 file scanned, 1 with findings"), "{text}");
}

#[test]
fn hardening_11_log_lines_carry_no_colour_codes_off_a_terminal() {
    // A manifest kind netpol skips makes a warning on standard error, which is a pipe here.
    let output = common::palisade()
        .args(["netpol", "list", "--dirpath", "examples/netpol/cluster"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("WARN"), "no log line to check: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "escape codes in a log off a terminal: {stderr:?}"
    );
}

/// `scan model PATH --signature SIG --key PUB`: the signature is verified and the files scanned in
/// one pass. Signed with palisade (whole files and shards): passes; one byte changed: fails
/// naming the file; a dangerous pickle that is correctly signed, or one under an ignored path,
/// still fails the scan; a wrong key fails; two PATHs or an unreadable signature are bad input.
#[test]
fn scan_with_signature_verifies_and_scans_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sh = |cmd: &str| {
        let status = std::process::Command::new("sh")
            .current_dir(d)
            .args(["-c", cmd])
            .status()
            .unwrap();
        assert!(status.success(), "{cmd}");
    };
    sh(
        "openssl ecparam -name prime256v1 -genkey -noout -out k.sec1 \
        && openssl pkcs8 -topk8 -nocrypt -in k.sec1 -out key.pem \
        && openssl ec -in key.pem -pubout -out pub.pem 2>/dev/null \
        && openssl ecparam -name prime256v1 -genkey -noout -out other.sec1 \
        && openssl ec -in other.sec1 -pubout -out other.pub 2>/dev/null",
    );
    let model = d.join("model");
    std::fs::create_dir_all(model.join("sub")).unwrap();
    std::fs::write(model.join("weights.pkl"), BENIGN).unwrap();
    std::fs::write(model.join("config.json"), b"{\"a\": 1}").unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(model.join("sub/tensor.bin"), &big).unwrap();
    let p = |name: &str| d.join(name).to_str().unwrap().to_string();
    let sign = |sig: &str, extra: &[&str]| {
        let mut args = vec![
            "sign".to_string(),
            "model".into(),
            p("model"),
            "--key".into(),
            p("key.pem"),
            "--signature".into(),
            p(sig),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = palisade().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    };
    let scan = |sig: &str, key: &str| {
        let out = run(&[
            "scan",
            "model",
            &p("model"),
            "--signature",
            &p(sig),
            "--key",
            &p(key),
            "-f",
            "json",
        ]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    sign("files.sig", &[]);
    sign(
        "shards.sig",
        &["--method", "shards", "--shard-size", "4096"],
    );
    for sig in ["files.sig", "shards.sig"] {
        let (code, stdout, stderr) = scan(sig, "pub.pem");
        assert_eq!(code, Some(0), "{sig}: {stdout}{stderr}");
        assert!(stderr.contains("verified: "), "{sig}: {stderr}");
        assert!(
            stdout.contains("weights.pkl") && stdout.contains("tensor.bin"),
            "{sig}: every file is in the report: {stdout}"
        );
        // The wrong key: not verified (exit 1), the reason named; the files are still scanned.
        let (code, stdout, stderr) = scan(sig, "other.pub");
        assert_eq!(code, Some(1), "{sig}: {stdout}{stderr}");
        assert!(
            stderr.contains("not verified") && stderr.contains("wrong key"),
            "{stderr}"
        );
        assert!(stdout.contains("weights.pkl"), "{stdout}");
    }

    // One byte changed in the middle of a shard of tensor.bin.
    let mut tampered = big.clone();
    tampered[150_000] ^= 1;
    std::fs::write(model.join("sub/tensor.bin"), &tampered).unwrap();
    for sig in ["files.sig", "shards.sig"] {
        let (code, stdout, stderr) = scan(sig, "pub.pem");
        assert_eq!(code, Some(1), "{sig}: {stdout}{stderr}");
        assert!(
            stderr.contains("not verified") && stderr.contains("sub/tensor.bin: changed"),
            "{sig}: {stderr}"
        );
    }
    std::fs::write(model.join("sub/tensor.bin"), &big).unwrap();

    // A dangerous pickle, correctly signed: the signature verifies, the scan fails.
    std::fs::write(model.join("evil.pkl"), SYSTEM).unwrap();
    sign("evil.sig", &[]);
    let (code, stdout, stderr) = scan("evil.sig", "pub.pem");
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("verified: ") && !stderr.contains("not verified"),
        "{stderr}"
    );
    assert!(
        stdout.contains("evil.pkl") && stdout.contains("system"),
        "{stdout}"
    );
    std::fs::remove_file(model.join("evil.pkl")).unwrap();

    // Under .git (left out of the signature, as model_signing does): still scanned.
    std::fs::create_dir(model.join(".git")).unwrap();
    std::fs::write(model.join(".git/hook.pkl"), SYSTEM).unwrap();
    let (code, stdout, stderr) = scan("files.sig", "pub.pem");
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("verified: ") && !stderr.contains("not verified"),
        "{stderr}"
    );
    assert!(stdout.contains(".git/hook.pkl"), "{stdout}");
    std::fs::remove_dir_all(model.join(".git")).unwrap();

    // Bad input: two models, a signature that is not there, no trust given.
    let two = run(&[
        "scan",
        "model",
        &p("model"),
        &p("model"),
        "--signature",
        &p("files.sig"),
        "--key",
        &p("pub.pem"),
    ]);
    assert_eq!(two.status.code(), Some(2), "{two:?}");
    let (code, _, stderr) = scan("absent.sig", "pub.pem");
    assert_eq!(code, Some(2), "{stderr}");
    let none = run(&["scan", "model", &p("model"), "--signature", &p("files.sig")]);
    assert_eq!(none.status.code(), Some(2), "{none:?}");
}
