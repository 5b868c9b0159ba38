//! `report --format html` and `allowance --format html` in a real browser: Debian's Chromium renders the page headless,
//! its screenshot is not blank, the numbers read back from the rendered DOM are those of
//! `--format csv` for the same data, and the page makes no network request (Chromium's net
//! log shows none from the page; a control page with an image shows that it would).
//! `.ci/run` installs `chromium` and runs these (`--ignored`).

mod common;

use common::{scratch, text};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use usage_fake::{FakeConfig, FakeService};

async fn report(fake: &FakeService, args: &[&str]) -> Output {
    run(fake, &[&["report", "--since", "7d"], args].concat()).await
}

async fn run(fake: &FakeService, args: &[&str]) -> Output {
    let mut cmd = Command::cargo_bin("genesys-usage").unwrap();
    cmd.env_clear()
        .envs(common::clock())
        .args(["--base-url", &fake.base_url()])
        .args(args)
        .env("GENESYSCLOUD_OAUTHCLIENT_ID", fake.client_id())
        .env("GENESYSCLOUD_OAUTHCLIENT_SECRET", fake.client_secret())
        .timeout(Duration::from_secs(60));
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Runs headless Chromium on `page` with `extra` flags, a fresh profile and a net log;
/// returns its stdout and the net log's path.
fn chromium(dir: &Path, page: &Path, extra: &[&str]) -> (String, PathBuf) {
    let netlog = dir.join(format!(
        "netlog-{}.json",
        page.file_stem().unwrap().to_string_lossy()
    ));
    let profile = dir.join(format!(
        "profile-{}",
        page.file_stem().unwrap().to_string_lossy()
    ));
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1100,1800",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--log-net-log={}", netlog.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium (Debian's package; .ci/run installs it)");
    assert!(out.status.success(), "{}", text(&out.stderr));
    (text(&out.stdout), netlog)
}

/// The URLs the page asked for: requests in the net log started for a document (Chromium's
/// own requests carry the initiator "not an origin").
fn page_requests(netlog: &Path) -> Vec<String> {
    let log: serde_json::Value = serde_json::from_slice(&std::fs::read(netlog).unwrap()).unwrap();
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == start_job)
        .filter(|e| e["params"]["initiator"].as_str() != Some("not an origin"))
        .filter_map(|e| e["params"]["url"].as_str().map(str::to_string))
        .collect()
}

/// `data-field` cells of the rows marked `data-client` in the DOM, keyed by the row's
/// `data-` attributes: (client, method, uri) -> field -> number.
fn dom_numbers(dom: &str) -> BTreeMap<(String, String, String), BTreeMap<String, i64>> {
    let attribute = |tag: &str, name: &str| {
        tag.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(|v| v.replace("&amp;", "&"))
            .unwrap_or_default()
    };
    let mut rows = BTreeMap::new();
    for row in dom.split("<tr ").skip(1) {
        let row = row.split("</tr>").next().unwrap();
        let tag = row.split('>').next().unwrap();
        if !tag.contains("data-client=") {
            continue;
        }
        let key = (
            attribute(tag, "data-client"),
            attribute(tag, "data-method"),
            attribute(tag, "data-uri"),
        );
        let mut fields = BTreeMap::new();
        for cell in row.split("data-field=\"").skip(1) {
            let (name, rest) = cell.split_once('"').unwrap();
            let value = rest.split_once('>').unwrap().1.split('<').next().unwrap();
            fields.insert(name.to_string(), value.replace(',', "").parse().unwrap());
        }
        rows.insert(key, fields);
    }
    rows
}

/// The same numbers from the CSV: client totals and each endpoint's.
fn csv_numbers(csv: &str) -> BTreeMap<(String, String, String), BTreeMap<String, i64>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut rows = BTreeMap::new();
    for line in lines {
        // No field of the demo's org holds a comma or a quote.
        let cells: Vec<&str> = line.split(',').collect();
        let client = cells[at("oauthClientId")].to_string();
        let mut totals = BTreeMap::new();
        totals.insert(
            "requestCount".into(),
            cells[at("requestCount")].parse().unwrap(),
        );
        totals.insert("status429".into(), cells[at("status429")].parse().unwrap());
        rows.insert((client.clone(), String::new(), String::new()), totals);
        if !cells[at("httpMethod")].is_empty() {
            let mut endpoint = BTreeMap::new();
            endpoint.insert(
                "endpointRequestCount".into(),
                cells[at("endpointRequestCount")].parse().unwrap(),
            );
            endpoint.insert(
                "endpointStatus429".into(),
                cells[at("endpointStatus429")].parse().unwrap(),
            );
            rows.insert(
                (
                    client,
                    cells[at("httpMethod")].to_string(),
                    cells[at("templateUri")].to_string(),
                ),
                endpoint,
            );
        }
    }
    rows
}

/// The SVG texts of `page` that Chromium lays out past their SVG's viewBox, as
/// `text@x..x+width` (or `none`): a copy of the page measures them with `getBBox` and writes
/// the answer into the DOM it dumps.
fn texts_outside_their_svg(dir: &Path, page: &Path) -> String {
    let probe = page.with_file_name(format!(
        "{}-bounds.html",
        page.file_stem().unwrap().to_string_lossy()
    ));
    let script = "<script>addEventListener('load',()=>{const out=[];\
        for(const svg of document.querySelectorAll('svg')){const box=svg.viewBox.baseVal;\
        for(const t of svg.querySelectorAll('text')){const b=t.getBBox();\
        if(b.x<box.x-0.5||b.x+b.width>box.x+box.width+0.5){\
        out.push(t.textContent+'@'+b.x.toFixed(1)+'..'+(b.x+b.width).toFixed(1)+' of '+box.width);}}}\
        const pre=document.createElement('pre');pre.id='bounds';\
        pre.textContent='BOUNDS'+'['+(out.join(' | ')||'none')+']';document.body.append(pre);});</script>";
    // The page's policy forbids scripts; the probe's copy allows its own inline one.
    let html = std::fs::read_to_string(page)
        .unwrap()
        .replace(
            "default-src 'none';",
            "default-src 'none'; script-src 'unsafe-inline';",
        )
        .replace("</body>", &format!("{script}</body>"));
    std::fs::write(&probe, html).unwrap();
    let (dom, _) = chromium(dir, &probe, &["--dump-dom", "--virtual-time-budget=2000"]);
    dom.split("BOUNDS[")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| panic!("the probe wrote no answer: {dom}"))
        .to_string()
}

/// A screenshot of `page` has text on it (at least `percent` of its pixels inked) and the
/// chart: at least 500 pixels of the chart's colour `chart` (RGB), so the SVG was drawn.
fn assert_inked(dir: &Path, page: &Path, percent: usize, chart: [u8; 3]) {
    let shot = page.with_extension("png");
    chromium(dir, page, &[&format!("--screenshot={}", shot.display())]);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let data = &pixels[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut inked = 0usize;
    let mut charted = 0usize;
    for px in data.chunks(channels) {
        colours.insert(px[..3].to_vec());
        if px[..3] == chart {
            charted += 1;
        }
        if px[..3].iter().any(|&c| c < 200) {
            inked += 1;
        }
    }
    let total = data.len() / channels;
    assert!(colours.len() > 20, "{} colours", colours.len());
    assert!(
        inked * 100 > total * percent,
        "{inked} of {total} pixels inked"
    );
    assert!(charted > 500, "{charted} pixels of the chart's {chart:?}");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Debian's chromium: .ci/run installs it and runs this"]
async fn chromium_renders_the_html_report_with_the_numbers_of_the_csv_and_fetches_nothing() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let dir = scratch("html-report");
    let page = dir.join("report.html");
    let out = report(&fake, &["-o", page.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let csv = report(&fake, &["--format", "csv"]).await;
    assert_eq!(csv.status.code(), Some(0), "{}", text(&csv.stderr));

    let (dom, netlog) = chromium(&dir, &page, &["--dump-dom"]);
    assert!(dom.contains("<svg"), "{dom}");
    let shown = dom_numbers(&dom);
    let expected = csv_numbers(&text(&csv.stdout));
    assert!(expected.len() > 10, "{expected:?}");
    assert_eq!(shown, expected, "the page's numbers are the CSV's");
    assert_eq!(
        page_requests(&netlog),
        Vec::<String>::new(),
        "the page fetched something"
    );

    // The screenshot has a chart and text on it, not a blank page: the bars of requests.
    assert_inked(&dir, &page, 3, [0x56, 0xB4, 0xE9]);

    // Every label of every chart is drawn inside its chart, as Chromium lays it out: no
    // date cut at the right edge ("2026-12-0").
    let outside = texts_outside_their_svg(&dir, &page);
    assert_eq!(outside, "none", "labels past their chart's edge");
    // A month's bars are narrow: its last date sits at the edge.
    let month = dir.join("month.html");
    let out = run(
        &fake,
        &["report", "--since", "30d", "-o", month.to_str().unwrap()],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let outside = texts_outside_their_svg(&dir, &month);
    assert_eq!(outside, "none", "labels past their chart's edge, 30 days");

    // The check can fail: a page with an image from the network shows it in the log.
    let control = dir.join("control.html");
    std::fs::write(&control, "<img src=\"http://127.0.0.1:9/x.png\">").unwrap();
    let (_, netlog) = chromium(&dir, &control, &["--dump-dom"]);
    assert_eq!(
        page_requests(&netlog),
        vec!["http://127.0.0.1:9/x.png".to_string()]
    );
}

/// Every `data-field` cell of the allowance page: the period's figures (keyed by an empty
/// client) and each client's row, numbers without their thousands separators.
fn allowance_dom(dom: &str) -> BTreeMap<(String, String), String> {
    let mut fields = BTreeMap::new();
    let mut client = String::new();
    for part in dom.split('<').skip(1) {
        let Some((tag, content)) = part.split_once('>') else {
            continue;
        };
        if let Some(rest) = tag.strip_prefix("tr data-client=\"") {
            client = rest.split('"').next().unwrap().to_string();
        }
        if let Some(rest) = tag.split("data-field=\"").nth(1) {
            let name = rest.split('"').next().unwrap();
            let key = if name.starts_with("client") {
                client.clone()
            } else {
                String::new()
            };
            fields.insert((key, name.to_string()), content.replace(',', ""));
        }
    }
    fields
}

/// The same fields from `allowance --format csv`.
fn allowance_csv(csv: &str) -> BTreeMap<(String, String), String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut fields = BTreeMap::new();
    for line in lines {
        // No field of the demo's org holds a comma or a quote.
        let cells: Vec<&str> = line.split(',').collect();
        let client = cells[header.iter().position(|h| *h == "oauthClientId").unwrap()];
        for (name, value) in header.iter().zip(&cells) {
            let key = if name.starts_with("client") {
                client.to_string()
            } else {
                String::new()
            };
            if matches!(
                *name,
                "oauthClientId" | "oauthClientName" | "clientShareOfProjection" | "clientChange"
            ) {
                continue;
            }
            fields.insert((key, name.to_string()), value.to_string());
        }
    }
    fields
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Debian's chromium: .ci/run installs it and runs this"]
async fn chromium_renders_the_allowance_page_with_the_numbers_of_the_csv_and_fetches_nothing() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let dir = scratch("html-allowance");
    let page = dir.join("allowance.html");
    // A fixed day, so that the period has days behind it and ahead.
    let ask = [
        "allowance",
        "--licenses",
        "cx3=25,cx1=4",
        "--billing-day",
        "21",
        "--as-of",
    ];
    let as_of = (chrono::Utc::now().date_naive() - chrono::Days::new(40)).to_string();
    let ask = [&ask[..], &[as_of.as_str()]].concat();
    let out = run(&fake, &[&ask[..], &["-o", page.to_str().unwrap()]].concat()).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let csv = run(&fake, &[&ask[..], &["--format", "csv"]].concat()).await;
    assert_eq!(csv.status.code(), Some(0), "{}", text(&csv.stderr));

    let (dom, netlog) = chromium(&dir, &page, &["--dump-dom"]);
    assert!(dom.contains("<svg") && dom.contains("<polyline"), "{dom}");
    let shown = allowance_dom(&dom);
    let expected = allowance_csv(&text(&csv.stdout));
    assert!(expected.len() > 20, "{expected:?}");
    assert_eq!(shown, expected, "the page's numbers are the CSV's");
    assert_eq!(
        page_requests(&netlog),
        Vec::<String>::new(),
        "the page fetched something"
    );
    // The allocation's line.
    assert_inked(&dir, &page, 2, [0xD5, 0x5E, 0x00]);
}

/// `evidence --client ID -o case.html`: the page renders in Chromium with the JSON's numbers
/// (each day's requests and 429s, the hours near the limit, the org's value and default),
/// its facts paragraph, every chart label inside its chart, and nothing fetched.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Debian's chromium: .ci/run installs it and runs this"]
async fn chromium_renders_the_evidence_page_with_the_numbers_of_the_json_and_fetches_nothing() {
    let fake = FakeService::start(FakeConfig::default()).await.unwrap();
    let dir = scratch("html-evidence");
    let page = dir.join("case.html");
    let client = usage_fake::OAUTH_CLIENTS[0].0;
    let ask = ["evidence", "--client", client, "--since", "14d"];
    let out = run(&fake, &[&ask[..], &["-o", page.to_str().unwrap()]].concat()).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json = run(&fake, &[&ask[..], &["--format", "json"]].concat()).await;
    let case: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();

    let (dom, netlog) = chromium(&dir, &page, &["--dump-dom"]);
    let fields = |name: &str| -> Vec<String> {
        dom.split(&format!("data-field=\"{name}\">"))
            .skip(1)
            .map(|s| s.split('<').next().unwrap().replace(',', ""))
            .collect()
    };
    let days = case["days"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    let of = |key: &str| -> Vec<String> { days.iter().map(|d| d[key].to_string()).collect() };
    assert_eq!(fields("requestCount"), of("requestCount"));
    assert_eq!(fields("status429"), of("status429"));
    // A row per limit it came near (this client is near a key in two namespaces).
    let limits = case["limits"].as_array().unwrap();
    assert!(!limits.is_empty(), "{limits:?}");
    assert_eq!(
        fields("nearLimitHours"),
        limits
            .iter()
            .map(|l| l["nearLimitHours"].to_string())
            .collect::<Vec<_>>()
    );
    // The org's value of the limit it came near the most, as the JSON has it.
    let number = |v: &serde_json::Value| v.as_i64().map(|n| n.to_string()).unwrap_or_default();
    assert_eq!(
        fields("limitValue"),
        vec![number(&case["orgValue"]["value"])]
    );
    assert_eq!(
        fields("defaultValue"),
        vec![number(&case["orgValue"]["defaultValue"])]
    );
    let facts = case["facts"].as_str().unwrap();
    assert_eq!(
        facts.contains("already raised"),
        case["orgValue"]["raised"] == true,
        "{facts}"
    );
    assert!(
        dom.contains(&facts.replace('\'', "&#39;")) || dom.contains(facts),
        "{facts}"
    );
    assert_eq!(
        page_requests(&netlog),
        Vec::<String>::new(),
        "the page fetched something"
    );
    assert_eq!(texts_outside_their_svg(&dir, &page), "none");
    // The hour-by-day strip's near-limit cells.
    assert_inked(&dir, &page, 2, [0xD5, 0x5E, 0x00]);
}
