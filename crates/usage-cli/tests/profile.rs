//! The `gc` CLI's profiles against usage-fake, with a config file the test writes: each key,
//! the precedence (flags, then the environment, then the profile), the errors, the warning
//! for a secret others can read, and no secret ever printed.

mod common;

use common::{scratch, text};

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use usage_fake::{FakeConfig, FakeService};

fn write_config(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The tool against the fake, its environment `vars` only.
async fn run(fake: &FakeService, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::cargo_bin("genesys-usage").unwrap();
    cmd.env_clear()
        .envs(common::clock())
        .args(["--base-url", &fake.base_url()])
        .args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.timeout(std::time::Duration::from_secs(60));
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

const REPORT: [&str; 4] = ["report", "--format", "json", "--since"];

#[tokio::test(flavor = "multi_thread")]
async fn profiles_give_credentials_under_flags_and_the_environment() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let dir = scratch("profiles");
    let config = dir.join("config.toml");
    let (id, secret) = (fake.client_id(), fake.client_secret());
    // A token the fake issued, for a profile that holds one.
    let token = fake.issue_token();
    write_config(
        &config,
        &format!(
            "[DEFAULT]\nenvironment = \"eu_west_1\"\nclient_credentials = \"{id}\"\nclient_secret = \"{secret}\"\n\n\
             [acme]\nenvironment = \"mypurecloud.ie\"\nclient_credentials = \"{id}\"\nclient_secret = \"{secret}\"\n\n\
             [tokened]\nenvironment = \"mypurecloud.ie\"\naccess_token = \"{token}\"\n\n\
             [elsewhere]\nenvironment = \"mars_north_1\"\nclient_credentials = \"{id}\"\nclient_secret = \"{secret}\"\n\n\
             [wrong]\nclient_credentials = \"{id}\"\nclient_secret = \"not-the-secret\"\n"
        ),
        0o600,
    );
    let gc = config.to_str().unwrap();
    let with_env = [
        ("GENESYSCLOUD_OAUTHCLIENT_ID", id),
        ("GENESYSCLOUD_OAUTHCLIENT_SECRET", secret),
    ];
    let reference = run(&fake, &with_env, &[&REPORT[..], &["7d"]].concat()).await;
    assert_eq!(
        reference.status.code(),
        Some(0),
        "{}",
        text(&reference.stderr)
    );

    let ok = |out: &Output, what: &str| {
        assert_eq!(out.status.code(), Some(0), "{what}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), text(&reference.stdout), "{what}");
        for printed in [text(&out.stdout), text(&out.stderr)] {
            assert!(
                !printed.contains(secret) && !printed.contains(&token),
                "{what}: a secret printed"
            );
        }
        assert!(
            !text(&out.stderr).contains("warning"),
            "{what}: {}",
            text(&out.stderr)
        );
    };
    // Each profile key: the client pair, the token, the environment.
    for name in ["acme", "tokened"] {
        let out = run(
            &fake,
            &[],
            &[&["-p", name, "--gc-config", gc][..], &REPORT, &["7d"]].concat(),
        )
        .await;
        ok(&out, name);
    }
    let out = run(
        &fake,
        &[],
        &["--profile", "elsewhere", "--gc-config", gc, "report"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("mars_north_1"),
        "the environment key is read: {}",
        text(&out.stderr)
    );

    // [DEFAULT] with no profile named and no variable set; $HOME/.gc/config.toml is the file.
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".gc")).unwrap();
    std::fs::copy(&config, home.join(".gc/config.toml")).unwrap();
    let home_var = [("HOME", home.to_str().unwrap())];
    let out = run(&fake, &home_var, &[&REPORT[..], &["7d"]].concat()).await;
    ok(&out, "DEFAULT from $HOME");
    // A variable set: the profile's keys fill only what flags and variables leave.
    let out = run(
        &fake,
        &[
            ("HOME", home.to_str().unwrap()),
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", "not-the-secret"),
        ],
        &["report"],
    )
    .await;
    assert_ne!(
        out.status.code(),
        Some(0),
        "no DEFAULT once a variable is set: {}",
        text(&out.stderr)
    );

    // Precedence: the environment over the profile, a flag over the environment.
    let wrong_env = [("GENESYSCLOUD_OAUTHCLIENT_SECRET", "not-the-secret")];
    let out = run(
        &fake,
        &wrong_env,
        &["-p", "acme", "--gc-config", gc, "report"],
    )
    .await;
    assert_ne!(
        out.status.code(),
        Some(0),
        "the environment's secret wins: {}",
        text(&out.stderr)
    );
    let out = run(
        &fake,
        &[("GENESYSCLOUD_OAUTHCLIENT_SECRET", secret)],
        &[&["-p", "wrong", "--gc-config", gc][..], &REPORT, &["7d"]].concat(),
    )
    .await;
    ok(
        &out,
        "the environment's secret over the profile's wrong one",
    );
    let out = run(
        &fake,
        &[
            ("GENESYSCLOUD_OAUTHCLIENT_ID", "someone-else"),
            ("GENESYSCLOUD_OAUTHCLIENT_SECRET", secret),
        ],
        &[&["--client-id", id][..], &REPORT, &["7d"]].concat(),
    )
    .await;
    ok(&out, "--client-id over the environment");

    // An unknown profile: refused with the names the file has, nothing sent.
    let sent = fake.total_requests();
    let out = run(&fake, &[], &["-p", "nope", "--gc-config", gc, "report"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("it has DEFAULT, acme, elsewhere, tokened, wrong"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fake.total_requests(), sent);

    // A secret others can read: a warning, as ssh gives, and the value still unprinted.
    write_config(&config, &std::fs::read_to_string(&config).unwrap(), 0o644);
    let out = run(
        &fake,
        &[],
        &[&["-p", "acme", "--gc-config", gc][..], &REPORT, &["7d"]].concat(),
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("others can read it (mode 644); run chmod 600"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains(secret));

    // A file that is not TOML: its line, never its values.
    write_config(
        &config,
        &format!("[acme]\nclient_secret = \"{secret}\n"),
        0o600,
    );
    let out = run(&fake, &[], &["-p", "acme", "--gc-config", gc, "report"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not a gc configuration"),
        "{}",
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains(secret), "{}", text(&out.stderr));
}
