//! The background refresh's command line: `credbox --refresh-child` and
//! nothing else. What it refreshes (the manifest, the client's request:
//! git's host, path and username, Docker's registry, Cargo's registry and
//! index URL) reaches it on a pipe, so `ps` shows none of it to the other
//! users of the machine.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::clients::client;
use crate::support::servers::refreshing_helper;
use crate::support::util::{Cache, eventually};

/// Words of each request that must not show in `ps`.
const PRIVATE: [&str; 6] = [
    "private-host.example",
    "private/path.git",
    "private-user",
    "private-registry.example",
    "private-crates",
    "swr",
];

/// Every `ps -eo args` line of a refresh child, collected until `until`.
fn refresh_children(ps: &std::path::Path, until: Instant) -> Vec<String> {
    let mut seen = Vec::new();
    while Instant::now() < until {
        let out = Command::new(ps).args(["-eo", "args"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        seen.extend(
            text.lines()
                .filter(|l| l.contains("--refresh-child"))
                .map(str::to_owned),
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    seen
}

#[test]
fn a_background_refresh_shows_nothing_of_its_request_in_ps() {
    let Some(ps) = client("ps", "procps") else {
        return;
    };
    // One helper each, fetching from a token server that answers its
    // second request (the refresh) after 1 s: the child lives that long.
    let (git_tokens, git) = refreshing_helper();
    let (docker_tokens, docker) = refreshing_helper();
    let (cargo_tokens, cargo) = refreshing_helper();
    let cache = Cache::new();
    for m in [&git, &docker, &cargo] {
        cache.warm(m.arg());
    }
    let git_input = "protocol=https\nhost=private-host.example\npath=private/path.git\nusername=private-user\n\n";
    let cargo_input = r#"{"v":1,"registry":{"index-url":"sparse+https://private-registry.example/index/","name":"private-crates"},"kind":"get","operation":"read"}"#;
    let cargo_input = format!("{cargo_input}\n");
    let get = |which: usize| -> String {
        let out = match which {
            0 => cache.feed(&["git", git.arg(), "get"], &[], git_input),
            1 => cache.feed(
                &["docker", "get", "--manifest", docker.arg()],
                &[],
                "private-registry.example",
            ),
            _ => cache.feed(&["cargo", cargo.arg()], &[], &cargo_input),
        };
        out.ok().to_owned()
    };
    let fetched = Instant::now();
    let first: Vec<String> = (0..3).map(get).collect();
    assert!(first[0].contains("password=tok-1"), "{}", first[0]);
    assert!(first[1].contains("\"Secret\":\"tok-1\""), "{}", first[1]);
    assert!(first[2].contains("\"token\":\"tok-1\""), "{}", first[2]);
    std::thread::sleep(Duration::from_millis(12_200).saturating_sub(fetched.elapsed()));
    // In the refresh window: each answers from the cache and starts a
    // refresh, which waits 1 s on its token server.
    for (which, first) in first.iter().enumerate() {
        assert_eq!(&get(which), first);
    }
    let seen = refresh_children(&ps, Instant::now() + Duration::from_millis(700));
    assert!(!seen.is_empty(), "no refresh child was seen in ps");
    for line in &seen {
        let args: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(args.len(), 2, "a refresh child's arguments: {line}");
        assert!(args[0].ends_with("credbox"), "{line}");
        assert_eq!(args[1], "--refresh-child", "{line}");
        for word in PRIVATE {
            assert!(!line.contains(word), "{word} shows in ps: {line}");
        }
    }
    // And the refreshes did their work: each client gets token 2.
    let deadline = fetched + Duration::from_millis(14_800);
    for (which, first) in first.iter().enumerate() {
        let second = first.replace("tok-1", "tok-2");
        assert!(eventually(|| get(which), &second, deadline), "{which}");
    }
    for tokens in [git_tokens, docker_tokens, cargo_tokens] {
        assert_eq!(tokens.stop().len(), 2, "one refresh each");
    }
}
