//! A real editor as the language server's client: headless Neovim (Debian's package, 0.7 or
//! later) starts `exp lsp` through its built-in LSP client, opens a file with an error, and
//! asks for what a user sees: the diagnostics, a hover, completion, go to definition, the
//! diagnostics going away when the error is fixed, and formatting applied to the buffer. A Lua
//! script drives it and writes what Neovim received to a JSON file.
//!
//! Neovim must be installed (`test.sh` installs it with apt-get): this test fails, and says how
//! to install it, when it is not.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{exp_binary, Test};

const SCRIPT: &str = r#"
local bin, file, result = os.getenv('EXP_TEST_BIN'), os.getenv('EXP_TEST_FILE'), os.getenv('EXP_TEST_RESULT')
local out = { steps = {} }
local function finish()
  vim.fn.writefile({ vim.fn.json_encode(out) }, result)
  vim.cmd('qa!')
end
local ok, err = pcall(function()
  vim.cmd('edit ' .. vim.fn.fnameescape(file))
  local buf = vim.api.nvim_get_current_buf()
  local id = vim.lsp.start_client({ name = 'exp', cmd = { bin, 'lsp' }, root_dir = vim.fn.fnamemodify(file, ':h') })
  vim.lsp.buf_attach_client(buf, id)
  local function diagnostics()
    return vim.tbl_map(function(d)
      local code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
      return { code = code, message = d.message, line = d.lnum, col = d.col }
    end, vim.diagnostic.get(buf))
  end
  vim.wait(60000, function() return #vim.diagnostic.get(buf) > 0 end, 20)
  out.opened = diagnostics()
  local params = function(line, character)
    return { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = line, character = character } }
  end
  local function ask(method, line, character)
    local answers = vim.lsp.buf_request_sync(buf, method, params(line, character), 20000) or {}
    for _, answer in pairs(answers) do return answer.result end
  end
  out.hover = ask('textDocument/hover', 4, 15)
  out.completion = ask('textDocument/completion', 4, 22)
  out.definition = ask('textDocument/definition', 7, 9)
  -- Fix the typo (line 5: `optimizer: adamw { lrr: 0.01 }`).
  vim.api.nvim_buf_set_lines(buf, 4, 5, false, { '  optimizer: adamw { lr: 0.01 }' })
  vim.wait(20000, function() return #vim.diagnostic.get(buf) == 0 end, 20)
  out.fixed = diagnostics()
  vim.lsp.buf.formatting_sync(nil, 20000)
  out.formatted = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') .. '\n'
end)
out.ok = ok
out.error = err and tostring(err) or nil
finish()
"#;

const TEXT: &str = "import std.digits\nmodel net = mlp\ntrain t {\n  model: net, data: digits, steps: 2 steps\n  optimizer: adamw { lrr: 0.01 }\n}\n\
evaluate e {\n  model: t, data: digits,\n  metrics:   [accuracy] }\n";

fn neovim() -> String {
    let found = Command::new("nvim").arg("--version").output();
    match found {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
        _ => panic!(
            "Neovim is not installed, and this test needs a real editor: install Debian's package \
             (`apt-get update && apt-get install -y neovim`, which ./test.sh does) and run it again"
        ),
    }
}

#[test]
fn neovim_shows_diagnostics_hovers_completes_jumps_and_formats() {
    let version = neovim();
    let test = Test::new().file("study.exp", TEXT);
    let result = test.home.path().join("neovim.json");
    let script = test.home.path().join("client.lua");
    std::fs::write(&script, SCRIPT).unwrap();
    let mut child = Command::new("nvim")
        .args(["--headless", "-u", "NONE", "-i", "NONE", "-n", "-c"])
        .arg(format!("luafile {}", script.display()))
        .current_dir(test.dir.path())
        .env_remove("EXP_PLUGIN_PATH")
        .env("XDG_CACHE_HOME", test.home.path().join("cache"))
        .env("XDG_CONFIG_HOME", test.home.path().join("config"))
        .env("EXP_TEST_BIN", exp_binary())
        .env("EXP_TEST_FILE", test.path("study.exp"))
        .env("EXP_TEST_RESULT", &result)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start nvim");
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{version} did not finish the session within 180 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&result)
        .unwrap_or_else(|error| panic!("{version} wrote no results ({error})"));
    let out: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        out["ok"], true,
        "the Lua script failed in {version}: {}",
        out["error"]
    );

    let opened = out["opened"].as_array().unwrap();
    assert_eq!(opened.len(), 1, "{out}");
    assert_eq!(opened[0]["code"], "E0020");
    assert_eq!(
        (opened[0]["line"].as_u64(), opened[0]["col"].as_u64()),
        (Some(4), Some(21))
    );
    assert!(opened[0]["message"]
        .as_str()
        .unwrap()
        .contains("did you mean `lr`?"));

    let hover = out["hover"]["contents"]["value"]
        .as_str()
        .unwrap_or_default();
    assert!(hover.contains("**optimizer `adamw`**"), "{out}");
    let labels: Vec<&str> = out["completion"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["label"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        labels.contains(&"lr") && labels.contains(&"weight_decay"),
        "{labels:?}"
    );
    let definition = &out["definition"];
    let target = definition.get(0).unwrap_or(definition);
    assert_eq!(
        target["range"]["start"]["line"], 2,
        "`model: t` goes to `train t`: {out}"
    );

    assert_eq!(out["fixed"], serde_json::json!([]), "{out}");
    let fixed = TEXT.replace("lrr", "lr");
    assert_eq!(
        out["formatted"].as_str().unwrap(),
        exp_syntax::format(&fixed).unwrap()
    );
}
