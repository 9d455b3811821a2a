//! `ckpt report` seen as a person sees it: the page opened in headless Chromium
//! (Debian's `chromium`) through the DevTools protocol (the `headless_chrome` crate,
//! sync), where console errors and exceptions are visible (not to `--dump-dom`). No
//! network: the browser runs with its background networking off, a fresh profile, and
//! the page is a file. Ignored by default (`--ignored`; CI installs chromium and runs it
//! with `CKPT_REQUIRE_COMPONENTS=1`); a PNG screenshot goes under target/ for a person.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{ok, root};
use headless_chrome::protocol::cdp::Log::LogEntryLevel;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::protocol::cdp::Runtime::ConsoleAPICalledEventTypeOption;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::{Browser, LaunchOptions, Tab};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium, started with a fresh profile under `dir`; `None` (said by
/// `ckpt_tests::components::missing`) when it is not installed. Dropping the browser
/// stops it (also when the test fails); `dir` is removed with its guard.
fn chromium(test: &str, dir: &Path) -> Option<Browser> {
    if !Path::new(CHROMIUM).exists() {
        ckpt_tests::components::missing(test, "no /usr/bin/chromium: install Debian's chromium");
        return None;
    }
    let args: Vec<&OsStr> = [
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(OsStr::new)
    .collect();
    let options = LaunchOptions::default_builder()
        .path(Some(PathBuf::from(CHROMIUM)))
        .headless(true)
        .sandbox(false)
        .enable_gpu(false)
        .user_data_dir(Some(dir.join("profile")))
        .window_size(Some((1280, 1600)))
        .idle_browser_timeout(Duration::from_secs(180))
        .args(args)
        .build()
        .unwrap();
    Some(Browser::new(options).unwrap_or_else(|e| panic!("{test}: chromium does not start: {e}")))
}

/// Errors the page reports: exceptions, console.error calls, log entries of level error.
type Errors = Arc<Mutex<Vec<String>>>;

/// Opens `page` in a new tab, collecting its errors.
fn open(browser: &Browser, page: &Path) -> (Arc<Tab>, Errors) {
    let tab = browser.new_tab().unwrap();
    tab.set_default_timeout(Duration::from_secs(120));
    let errors: Errors = Arc::default();
    let seen = errors.clone();
    tab.enable_log().unwrap();
    tab.enable_runtime().unwrap();
    tab.add_event_listener(Arc::new(move |event: &Event| {
        let e = match event {
            Event::RuntimeExceptionThrown(e) => Some(format!(
                "exception: {} at {}:{}",
                e.params.exception_details.text,
                e.params.exception_details.line_number,
                e.params.exception_details.column_number
            )),
            Event::RuntimeConsoleAPICalled(e)
                if e.params.Type == ConsoleAPICalledEventTypeOption::Error =>
            {
                Some(format!("console.error: {:?}", e.params.args))
            }
            Event::LogEntryAdded(e) if e.params.entry.level == LogEntryLevel::Error => {
                Some(format!("log: {}", e.params.entry.text))
            }
            _ => None,
        };
        if let Some(e) = e {
            seen.lock().unwrap().push(e);
        }
    }))
    .unwrap();
    let url = format!("file://{}", page.display());
    tab.navigate_to(&url)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    (tab, errors)
}

/// The value of a JS expression, as JSON.
fn eval(tab: &Tab, expression: &str) -> serde_json::Value {
    tab.evaluate(expression, false)
        .unwrap_or_else(|e| panic!("{expression}: {e}"))
        .value
        .unwrap_or(serde_json::Value::Null)
}

fn screenshot(tab: &Tab, name: &str) -> PathBuf {
    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
    path
}

#[test]
#[ignore = "needs chromium"]
fn the_sample_report_renders_and_shows_a_task_clicked_in_the_graph() {
    let test = "the_sample_report_renders_and_shows_a_task_clicked_in_the_graph";
    let dir = tempfile::tempdir().unwrap();
    let Some(browser) = chromium(test, dir.path()) else {
        return;
    };
    let sample = root().join("samples/v23-rc2.x86_64.ckpt");
    let page = dir.path().join("report.html");
    let json = dir.path().join("report.json");
    ok(
        &[
            "report",
            sample.to_str().unwrap(),
            "-o",
            page.to_str().unwrap(),
            "--to-rev",
            "v23-rc1",
            "--json-data",
            json.to_str().unwrap(),
        ],
        None,
    );
    let data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let tasks = data["tasks"].as_array().unwrap();
    let (tab, errors) = open(&browser, &page);
    // One graph node per task.
    let nodes = eval(
        &tab,
        "document.querySelectorAll('#graph-view g.node.task').length",
    );
    assert_eq!(nodes, tasks.len());
    // Click the node of pid 2, as a person would (the mouse at its middle).
    let chosen = tasks.iter().find(|t| t["pid"] == 2).unwrap();
    let id = format!("#t{}", chosen["index"]);
    tab.find_element(&format!("#graph-view g{id} rect"))
        .unwrap()
        .click()
        .unwrap();
    assert_eq!(
        eval(&tab, "document.querySelector('#task .body').dataset.pid"),
        "2"
    );
    let files = chosen["files"].as_array().unwrap();
    assert!(!files.is_empty());
    assert_eq!(
        eval(&tab, "document.querySelectorAll('#task-files tr').length"),
        files.len() + 1
    );
    let shown = eval(
        &tab,
        "JSON.stringify(Array.from(document.querySelectorAll('#task-files tr td:first-child')).map(function (c) { return Number(c.textContent); }))",
    );
    let shown: serde_json::Value = serde_json::from_str(shown.as_str().unwrap()).unwrap();
    let want: Vec<serde_json::Value> = files.iter().map(|f| f["fd"].clone()).collect();
    assert_eq!(shown, serde_json::Value::Array(want));
    // The memory chart: one bar per VMA.
    let vmas = chosen["memory"]["vmas"].as_array().unwrap().len();
    assert!(vmas > 0);
    assert_eq!(
        eval(
            &tab,
            "document.querySelectorAll('#memory-chart g.vma').length"
        ),
        vmas
    );
    // Registers on request.
    tab.find_element("#show-registers")
        .unwrap()
        .click()
        .unwrap();
    assert!(
        eval(
            &tab,
            "document.querySelectorAll('#task-registers tr').length"
        )
        .as_u64()
            > Some(1)
    );
    // The other sections drew.
    assert!(
        eval(
            &tab,
            "document.querySelectorAll('#stats svg.chart g.bar').length"
        )
        .as_u64()
            > Some(0)
    );
    assert!(
        eval(
            &tab,
            "document.querySelector('#check .body').textContent.length"
        )
        .as_u64()
            > Some(0)
    );
    assert!(eval(&tab, "document.querySelector('#convert-counts') !== null") == true);
    screenshot(&tab, "report-sample.png");
    let errors = errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "the page reported errors: {errors:?}");
}

#[test]
#[ignore = "needs chromium"]
fn a_thousand_task_report_is_under_5_mb_and_renders_without_errors() {
    let test = "a_thousand_task_report_is_under_5_mb_and_renders_without_errors";
    let dir = tempfile::tempdir().unwrap();
    let Some(browser) = chromium(test, dir.path()) else {
        return;
    };
    let image = dir.path().join("1000.ckpt");
    let page = dir.path().join("report.html");
    let image_s = image.to_str().unwrap();
    ok(
        &[
            "sample", "--rev", "v23-rc2", "--arch", "x86_64", "--tasks", "1000", "-o", image_s,
        ],
        None,
    );
    ok(&["report", image_s, "-o", page.to_str().unwrap()], None);
    let size = std::fs::metadata(&page).unwrap().len();
    assert!(size < 5 << 20, "the page is {size} bytes");
    let (tab, errors) = open(&browser, &page);
    assert_eq!(
        eval(
            &tab,
            "document.querySelectorAll('#graph-view g.node.task').length"
        ),
        1000
    );
    assert_eq!(
        eval(
            &tab,
            "document.getElementById('task-select').options.length"
        ),
        1000
    );
    screenshot(&tab, "report-1000-tasks.png");
    let errors = errors.lock().unwrap().clone();
    assert!(errors.is_empty(), "the page reported errors: {errors:?}");
}
