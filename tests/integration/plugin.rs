//! `examples/claude-plugin`: the plugin's files parse, and its MCP
//! server's `headersHelper`, run through a shell with `CLAUDE_PLUGIN_ROOT`
//! set as Claude Code sets it, prints the headers from credbox.

use std::path::{Path, PathBuf};
use std::process::Command;

use credbox_test_artifacts::ENV_BEARER;

use crate::support::util::{Cache, root};

fn plugin_source() -> PathBuf {
    root().join("examples/claude-plugin")
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// Copies the plugin folder, as Claude Code does when it installs one,
/// and puts the built helper in it.
fn install(to: &Path) {
    for file in [".claude-plugin/plugin.json", ".mcp.json", "credbox.toml"] {
        let target = to.join(file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(plugin_source().join(file), target).unwrap();
    }
    std::fs::copy(ENV_BEARER, to.join("helper.wasm")).unwrap();
}

#[test]
fn the_plugins_headers_helper_runs_credbox_from_the_plugin_root() {
    let manifest = json(&plugin_source().join(".claude-plugin/plugin.json"));
    assert_eq!(manifest["name"], "credbox-internal-tools");
    let mcp = json(&plugin_source().join(".mcp.json"));
    let server = &mcp["mcpServers"]["internal-tools"];
    assert_eq!(server["type"], "http");
    let helper = server["headersHelper"].as_str().unwrap();
    assert!(
        helper.contains("${CLAUDE_PLUGIN_ROOT}/credbox.toml"),
        "{helper}"
    );

    // Installed under a path with a space, which the command must survive.
    let temp = tempfile::tempdir().unwrap();
    let plugin_root = temp.path().join("plugin cache/credbox-internal-tools");
    install(&plugin_root);
    let cache = Cache::new();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_credbox")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |command: &str| {
        let out = Command::new("sh")
            .args(["-c", command])
            .env_clear()
            .env("PATH", &path)
            .env("CLAUDE_PLUGIN_ROOT", &plugin_root)
            .env("CLAUDE_CODE_MCP_SERVER_NAME", "internal-tools")
            .env(
                "CLAUDE_CODE_MCP_SERVER_URL",
                server["url"].as_str().unwrap(),
            )
            .env("CREDBOX_CACHE_DIR", cache.path())
            .env("API_TOKEN", "plugin-token")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let expected = "{\"Authorization\":\"Bearer plugin-token\"}\n";
    // The shell expands the variable...
    assert_eq!(run(helper), expected);
    // ...or Claude Code does, before the shell sees the command.
    let expanded = helper.replace("${CLAUDE_PLUGIN_ROOT}", plugin_root.to_str().unwrap());
    assert_eq!(run(&expanded), expected);
}
