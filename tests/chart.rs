//! End to end in real headless Chromium: the chart a clinician reads. Its sections, the keyboard,
//! the three screen sizes, ten thousand results, the encounter filters and axe-core. Run by
//! `cargo xtask test`, which builds `dist/` first and sets `CAIRN_DIST`. Screenshots go to
//! `target/e2e/`.
#![cfg(not(target_arch = "wasm32"))]

mod support;

/// The chart's sections, as the fragment names them.
const SECTIONS: [&str; 5] = ["summary", "vitals", "results", "encounters", "patient"];

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;
use support::*;

/// After an EHR launch the chart shows this patient's own vital signs, lab results and
/// encounters, with the values of the underlying record (issue 4), and an encounter's own
/// observations when it is chosen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_shows_the_patients_vitals_labs_and_encounters() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[1];
    let observations = stack.ehr.resources_of("Observation", &patient.id);
    let encounters = stack.ehr.resources_of("Encounter", &patient.id);
    open_chart(c, &stack, &patient.name).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    wait_until_loaded(c).await;

    // The latest body weight, at one decimal.
    let (weight, expected) = latest_observation(&stack, &patient.id, "29463-7", Some(1))
        .expect("the patient has body weights");
    assert_eq!(
        text_of(c, ".vital[data-kind='Weight'] .vital__value").await,
        expected
    );
    // Shown as `YYYY-MM-DD hh:mm` (Synthea writes UTC offsets).
    let when = weight["effectiveDateTime"].as_str().unwrap();
    assert_eq!(
        text_of(c, ".vital[data-kind='Weight'] .vital__when").await,
        format!("{} {}", &when[..10], &when[11..16])
    );

    // One laboratory test: its latest value in the results table.
    show_section(c, "results").await;
    let lab = observations
        .iter()
        .find(|o| {
            o["category"][0]["coding"][0]["code"] == "laboratory"
                && o["valueQuantity"]["value"].is_number()
                && PLAIN_UNITS.contains(&o["valueQuantity"]["unit"].as_str().unwrap_or_default())
        })
        .expect("the patient has lab results");
    let code = lab["code"]["coding"][0]["code"].as_str().unwrap();
    let (_, expected) = latest_observation(&stack, &patient.id, code, None).unwrap();
    assert_eq!(
        text_of(c, &format!("tr[data-test='loinc:{code}'] .lab__value")).await,
        expected
    );

    // A result of a category with no view of its own (smoking status, a survey) is in the
    // table of all results, with its kind and coded value; found by the filter.
    let survey = observations
        .iter()
        .find(|o| o["category"][0]["coding"][0]["code"] == "survey")
        .expect("the patient has survey answers");
    let code = survey["code"]["coding"][0]["code"].as_str().unwrap();
    let survey = latest_coded(&observations, code).unwrap();
    let text = |concept: &serde_json::Value| {
        concept["text"]
            .as_str()
            .or(concept["coding"][0]["display"].as_str())
            .unwrap()
            .to_owned()
    };
    let (label, value) = (text(&survey["code"]), text(&survey["valueCodeableConcept"]));
    let filter = c.find(Locator::Css(".all__filter")).await.unwrap();
    filter.send_keys(&label).await.unwrap();
    let first_row = text_of(c, ".all tr.row").await;
    assert!(
        first_row.contains(&label) && first_row.contains(&value) && first_row.contains("Survey"),
        "{first_row:?} should show {label} {value} (Survey)"
    );
    filter.clear().await.unwrap();

    // Every encounter once, newest first.
    show_section(c, "encounters").await;
    let rows = c.find_all(Locator::Css(".encounter")).await.unwrap();
    assert_eq!(rows.len(), encounters.len());
    let newest = encounters
        .iter()
        .map(|e| e["period"]["start"].as_str().unwrap_or_default().to_owned())
        .max()
        .unwrap();
    assert_eq!(
        text_of(c, ".encounter .encounter__when").await,
        newest[..10]
    );
    screenshot(c, "chart-ehr-frame").await;

    // Choosing an encounter shows its own observations, of every category.
    let first = &rows[0];
    let id = first.attr("data-encounter").await.unwrap().unwrap();
    first.click().await.unwrap();
    text_of(c, ".encounter-detail").await;
    wait_until_loaded(c).await;
    let own = observations
        .iter()
        .filter(|o| {
            o["encounter"]["reference"]
                .as_str()
                .is_some_and(|r| r.ends_with(&id))
        })
        .count();
    let shown = c
        .find_all(Locator::Css(".encounter-detail__observations tr"))
        .await
        .unwrap()
        .len();
    assert_eq!(shown, own);
    assert!(stack.ehr.requests().iter().any(|r| {
        r.path_and_query
            .contains(&format!("encounter=Encounter%2F{id}"))
    }));
    assert_canary_contained(c, &stack).await;
    c.clone().close().await.unwrap();
}

/// Vital signs read at clinical precision, with units as people write them (issue 14): a
/// Synthea blood pressure of `122.458769/86.929055 mm[Hg]` reads "122/87 mmHg". The value as
/// recorded is kept one hover away (the title), never lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vital_signs_read_at_clinical_precision_and_keep_the_recorded_value() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = &stack.ehr.patients()[1];
    let observations = stack.ehr.resources_of("Observation", &patient.id);
    open_chart(c, &stack, &patient.name).await;
    wait_until_loaded(c).await;

    let latest = |code: &str| {
        latest_coded(&observations, code).unwrap_or_else(|| panic!("the patient has no {code}"))
    };
    show_section(c, "vitals").await;
    let bp = latest("55284-4");
    let part = |code: &str| {
        bp["component"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["code"]["coding"][0]["code"] == code)
            .map(|c| c["valueQuantity"]["value"].clone())
            .unwrap()
    };
    let (systolic, diastolic) = (part("8480-6"), part("8462-4"));
    let card = ".vital[data-kind='Blood pressure'] .vital__value";
    let shown = text_of(c, card).await;
    assert_eq!(
        shown,
        format!(
            "{}/{} mmHg",
            as_shown(&systolic, Some(0)),
            as_shown(&diastolic, Some(0))
        )
    );
    let recorded = c
        .find(Locator::Css(card))
        .await
        .unwrap()
        .attr("title")
        .await
        .unwrap();
    assert_eq!(
        recorded.as_deref(),
        Some(format!("Recorded: {systolic}/{diastolic} mm[Hg]").as_str())
    );

    let bmi = latest("39156-5");
    assert_eq!(
        text_of(c, ".vital[data-kind='Body mass index'] .vital__value").await,
        format!(
            "{} kg/m²",
            as_shown(&bmi["valueQuantity"]["value"], Some(1))
        )
    );
    let vitals = text_of(c, ".section--vitals").await;
    assert!(
        !vitals.contains("mm[Hg]") && !vitals.contains("kg/m2"),
        "{vitals}"
    );
    screenshot(c, "vitals-clinical-precision").await;
}

/// The chart works from the keyboard alone: Tab shows where focus is, Enter chooses an
/// encounter and focus lands on its detail, Enter sorts a column, and the keys scroll the
/// table of all results, which draws the rows brought into view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_works_from_the_keyboard() {
    const ENTER: &str = "\u{E007}";
    const TAB: &str = "\u{E004}";
    const END: &str = "\u{E010}";
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    open_chart_of(c, &stack, sandbox::Ehr::scale_patient_id()).await;
    wait_until_loaded(c).await;
    let js = |script: &'static str| async move {
        c.execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    };

    // Tab from the results filter: the next control shows a visible focus ring.
    show_section(c, "results").await;
    c.find(Locator::Css(".all__filter"))
        .await
        .unwrap()
        .send_keys(TAB)
        .await
        .unwrap();
    let ring = js("const a = document.activeElement; \
        return [a.className, a.matches(':focus-visible'), getComputedStyle(a).outlineStyle]")
    .await;
    assert_eq!(ring[0], "all__scroll", "{ring}");
    assert_eq!(ring[1], true, "{ring}");
    assert_ne!(ring[2], "none", "{ring}");

    // End scrolls the focused table to the oldest results, and those rows are drawn.
    let first_before = text_of(c, ".all tr.row").await;
    c.active_element()
        .await
        .unwrap()
        .send_keys(END)
        .await
        .unwrap();
    let mut last = String::new();
    for _ in 0..300 {
        last = js("const r = document.querySelectorAll('.all tr.row'); \
            return r.length ? r[r.length - 1].textContent : ''")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned();
        if last.starts_with("2015") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let scroll = js("const s = document.querySelector('.all__scroll'); return [s.scrollTop, s.scrollHeight, s.clientHeight, document.querySelector('.all__count').textContent]").await;
    assert!(
        last.starts_with("2015"),
        "the last row after End: {last:?} (scrollTop, scrollHeight, clientHeight, count: {scroll})"
    );
    assert_ne!(text_of(c, ".all tr.row").await, first_before);
    let rows = c.find_all(Locator::Css(".all tr.row")).await.unwrap().len();
    assert!(rows <= 40, "{rows} rows drawn for a 480 px window");

    // Enter on a sort button sorts by that column.
    let test_header = c
        .find(Locator::Css(".all th:nth-child(2) .sort"))
        .await
        .unwrap();
    test_header.send_keys(ENTER).await.unwrap();
    let th = c.find(Locator::Css(".all th:nth-child(2)")).await.unwrap();
    assert_eq!(
        th.attr("aria-sort").await.unwrap().as_deref(),
        Some("ascending")
    );

    // Enter on an encounter opens it, marks it current, and moves focus to its detail.
    show_section(c, "encounters").await;
    let row = c.find(Locator::Css(".encounter")).await.unwrap();
    row.send_keys(ENTER).await.unwrap();
    text_of(c, ".encounter-detail").await;
    assert_eq!(
        row.attr("aria-current").await.unwrap().as_deref(),
        Some("true")
    );
    let focused = js("return document.activeElement.id").await;
    assert_eq!(focused, "encounter-detail-title");
    c.clone().close().await.unwrap();
}

/// The chart at the three sizes it is used at: a phone, Epic's embedded frame (900×600) and a
/// desktop window. At each, no section scrolls the page sideways, and in the frame the summary
/// fits one screen; screenshots of every section (an encounter open) go to `target/e2e/` to
/// be looked at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_fits_a_phone_an_ehr_frame_and_a_desktop() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = stack.ehr.patients()[1].id.clone();
    // (name, window, the frame's own size inside the EHR page)
    let sizes = [
        ("phone", (390, 844), None),
        ("frame", (1280, 800), Some((900, 600))),
        ("desktop", (1280, 800), None),
    ];
    for (name, (w, h), frame) in sizes {
        c.set_window_size(w, h).await.unwrap();
        c.goto(&format!("{}ehr/launch?patient={patient}", stack.ehr_url))
            .await
            .unwrap();
        let iframe = c
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Id("app"))
            .await
            .unwrap();
        if let Some((fw, fh)) = frame {
            c.execute(
                "arguments[0].style.cssText = `flex: none; width: ${arguments[1]}px; \
                 height: ${arguments[2]}px`",
                vec![serde_json::to_value(&iframe).unwrap(), json!(fw), json!(fh)],
            )
            .await
            .unwrap();
        }
        iframe.enter_frame().await.unwrap();
        wait_until_loaded(c).await;
        let fits = || async {
            c.execute(
                "return [document.documentElement.scrollWidth, window.innerWidth]",
                vec![],
            )
            .await
            .unwrap()
        };
        for section in SECTIONS {
            show_section(c, section).await;
            if section == "encounters" {
                click(c, ".encounter").await;
                text_of(c, ".encounter-detail").await;
            }
            wait_until_loaded(c).await;
            let wide = fits().await;
            assert!(
                wide[0].as_u64() <= wide[1].as_u64(),
                "{name}, {section}: {wide}"
            );
            screenshot(c, &format!("size-{name}-{section}")).await;
            // The summary fits one screen of the EHR's frame, below the sticky banner and bar.
            if frame.is_some() && section == "summary" {
                let bottom = c
                    .execute(
                        "return [document.querySelector('.section--summary').getBoundingClientRect().bottom, window.innerHeight]",
                        vec![],
                    )
                    .await
                    .unwrap();
                assert!(
                    bottom[0].as_f64() <= bottom[1].as_f64(),
                    "the summary runs below the frame: {bottom}"
                );
            }
        }
        c.enter_parent_frame().await.unwrap();
    }
    c.clone().close().await.unwrap();
}

/// The 10 000-observation patient: every result reaches the all-results table, but only the
/// rows in sight are in the page; scrolling, sorting and filtering work on all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_results_scroll_in_a_small_window() {
    let stack = start_stack().await;
    let id = sandbox::Ehr::scale_patient_id();
    let observations = stack.ehr.resources_of("Observation", id);
    let total = observations.len();
    assert_eq!(total, 10_000);
    let b = browser().await;
    let c = &b.client;
    open_chart_of(c, &stack, id).await;
    show_section(c, "results").await;
    text_of(c, ".all__count").await;
    wait_until_loaded(c).await;
    assert_eq!(
        text_of(c, ".all__count").await,
        format!("{total} of {total} results")
    );
    let drawn = || async {
        c.find_all(Locator::Css(".all tbody tr.row"))
            .await
            .unwrap()
            .len()
    };
    let rows = drawn().await;
    assert!((10..=300).contains(&rows), "{rows} rows in the DOM");

    // Scrolled to the end: the oldest result, and still a small window.
    let oldest = observations
        .iter()
        .filter_map(|o| o["effectiveDateTime"].as_str())
        .min()
        .unwrap()
        .to_owned();
    c.execute(
        "const s = document.querySelector('.all__scroll'); s.scrollTop = s.scrollHeight;",
        vec![],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let last = c
        .execute(
            "const r = document.querySelectorAll('.all tbody tr.row'); return r[r.length - 1].cells[0].textContent",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        last.as_str().unwrap(),
        format!("{} {}", &oldest[..10], &oldest[11..16])
    );
    assert!(drawn().await <= 300);
    screenshot(c, "all-results-scrolled").await;

    // Filtering finds every glucose result among the ten thousand.
    let glucose = observations
        .iter()
        .filter(|o| {
            o["code"]["coding"][0]["display"]
                .as_str()
                .is_some_and(|d| d.to_lowercase().contains("glucose"))
        })
        .count();
    let filter = c.find(Locator::Css(".all__filter")).await.unwrap();
    filter.send_keys("glucose").await.unwrap();
    let shown = format!("{glucose} of {total} results");
    for _ in 0..600 {
        if text_of(c, ".all__count").await == shown {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(text_of(c, ".all__count").await, shown);
    assert!(drawn().await <= 300);
    c.clone().close().await.unwrap();
}

/// The encounter list filters by status, class and a partial-date range, over all 200 of the
/// scale patient's encounters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encounters_filter_by_status_class_and_dates() {
    let stack = start_stack().await;
    let id = sandbox::Ehr::scale_patient_id();
    let encounters = stack.ehr.resources_of("Encounter", id);
    let b = browser().await;
    let c = &b.client;
    open_chart_of(c, &stack, id).await;
    show_section(c, "encounters").await;
    text_of(c, ".encounters").await;
    wait_until_loaded(c).await;
    let shown = || async { c.find_all(Locator::Css(".encounter")).await.unwrap().len() };
    assert_eq!(shown().await, encounters.len());

    let count = |f: &dyn Fn(&serde_json::Value) -> bool| encounters.iter().filter(|e| f(e)).count();
    let choose = |css: &'static str, value: String| async move {
        c.execute(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1]; s.dispatchEvent(new Event('change'));",
            vec![json!(css), json!(value)],
        )
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    choose(".filter__status", "cancelled".into()).await;
    let cancelled = count(&|e| e["status"] == "cancelled");
    assert!(cancelled > 0);
    assert_eq!(shown().await, cancelled);
    choose(".filter__status", String::new()).await;

    let class = encounters[0]["class"]["code"].as_str().unwrap().to_owned();
    choose(".filter__class", class.clone()).await;
    assert_eq!(
        shown().await,
        count(&|e| e["class"]["code"] == class.as_str())
    );
    choose(".filter__class", String::new()).await;

    for (css, value) in [(".filter__from", "2024"), (".filter__to", "2024")] {
        c.find(Locator::Css(css))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let in_2024 = count(&|e| {
        e["period"]["start"]
            .as_str()
            .is_some_and(|s| s.starts_with("2024"))
    });
    assert!(in_2024 > 0 && in_2024 < encounters.len());
    assert_eq!(shown().await, in_2024);
    c.clone().close().await.unwrap();
}

/// Every screen passes axe-core without serious or critical violations: the start page, each
/// section of the chart (an encounter open; inside the EHR's frame), the clinician's search
/// with results, and a problem screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_passes_axe() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let mut failures = Vec::new();

    c.goto(&stack.launch_page()).await.unwrap();
    text_of(c, ".system__name").await;
    failures.extend(
        axe_violations(c)
            .await
            .into_iter()
            .map(|v| format!("start: {v}")),
    );

    let patient = &stack.ehr.patients()[1];
    open_chart(c, &stack, &patient.name).await;
    text_of(c, ".banner__name").await;
    wait_until_loaded(c).await;
    for section in SECTIONS {
        show_section(c, section).await;
        if section == "encounters" {
            click(c, ".encounter").await;
            text_of(c, ".encounter-detail").await;
        }
        wait_until_loaded(c).await;
        failures.extend(
            axe_violations(c)
                .await
                .into_iter()
                .map(|v| format!("chart, {section}: {v}")),
        );
    }

    sign_in_as_clinician(c, &stack).await;
    let (given, family) = split_name(&patient.name);
    search_by_name(c, family, given, &patient.birth_date).await;
    text_of(c, ".result").await;
    failures.extend(
        axe_violations(c)
            .await
            .into_iter()
            .map(|v| format!("search: {v}")),
    );

    stack.ehr.inject(sandbox::Fault::AccessDenied);
    open_chart(c, &stack, &patient.name).await;
    text_of(c, ".problem__title").await;
    failures.extend(
        axe_violations(c)
            .await
            .into_iter()
            .map(|v| format!("problem: {v}")),
    );

    assert!(failures.is_empty(), "{failures:#?}");
    c.clone().close().await.unwrap();
}

/// The section bar reaches every section in one click, and from the keyboard by Tab and Enter
/// or by its access key (Alt+letter); the section is named in the fragment, which the Reload
/// button keeps, and which a relaunch in the same tab goes back to after a browser reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_section_bar_reaches_each_section_by_mouse_and_keyboard_and_is_remembered() {
    const ENTER: &str = "\u{E007}";
    const TAB: &str = "\u{E004}";
    const ALT: &str = "\u{E00A}";
    const RELEASE: &str = "\u{E000}";
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = stack.ehr.patients()[1].clone();
    open_chart_of(c, &stack, &patient.id).await;
    wait_until_loaded(c).await;
    let hash = || async {
        c.execute("return location.hash", vec![])
            .await
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    };
    let shown = |section: &'static str| async move {
        let css = match section {
            "results" => ".section--labs".to_owned(),
            other => format!(".section--{other}"),
        };
        text_of(c, &css).await;
        let current = c
            .find(Locator::Css(".sections [aria-current='page']"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap();
        assert_eq!(current.as_deref(), Some(format!("#{section}").as_str()));
        assert_eq!(
            c.find_all(Locator::Css(".section")).await.unwrap().len(),
            if section == "results" { 2 } else { 1 },
            "{section}: one section at a time"
        );
    };
    // The summary first, named in the fragment. Choosing one of its recent encounters opens it
    // in the Encounters section.
    shown("summary").await;
    assert_eq!(hash().await, "#summary");
    click(c, ".section--summary .encounter").await;
    shown("encounters").await;
    text_of(c, ".encounter-detail").await;
    assert_eq!(hash().await, "#encounters");
    // The chosen encounter and its observations outlive a visit to another section.
    show_section(c, "vitals").await;
    show_section(c, "encounters").await;
    text_of(c, ".encounter-detail").await;
    wait_until_loaded(c).await;

    // By mouse.
    for section in SECTIONS {
        c.find(Locator::Css(&format!(".sections a[href='#{section}']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        shown(section).await;
        assert_eq!(hash().await, format!("#{section}"));
    }

    // By keyboard: Tab along the bar, Enter on each link.
    c.execute("document.querySelector('.sections a').focus()", vec![])
        .await
        .unwrap();
    c.active_element()
        .await
        .unwrap()
        .send_keys(ENTER)
        .await
        .unwrap();
    shown("summary").await;
    for section in SECTIONS.into_iter().skip(1) {
        let link = c.active_element().await.unwrap();
        link.send_keys(TAB).await.unwrap();
        let next = c.active_element().await.unwrap();
        assert_eq!(
            next.attr("href").await.unwrap().as_deref(),
            Some(format!("#{section}").as_str())
        );
        next.send_keys(ENTER).await.unwrap();
        shown(section).await;
    }

    // By access key, from wherever focus is.
    for (section, key) in [
        ("vitals", "v"),
        ("encounters", "n"),
        ("summary", "s"),
        ("patient", "p"),
        ("results", "r"),
    ] {
        c.active_element()
            .await
            .unwrap()
            .send_keys(&format!("{ALT}{key}{RELEASE}"))
            .await
            .unwrap();
        shown(section).await;
        assert_eq!(hash().await, format!("#{section}"));
    }

    // Cairn's Reload keeps the section.
    show_section(c, "encounters").await;
    click(c, ".chart__reload").await;
    wait_until_loaded(c).await;
    shown("encounters").await;

    // A browser reload ends the session but keeps the fragment; the relaunch from the EHR in
    // this tab opens the same section. Neither address names the patient.
    show_section(c, "vitals").await;
    c.execute("location.reload()", vec![]).await.unwrap();
    text_of(c, ".problem__title").await;
    assert_eq!(hash().await, "#vitals");
    let address = c.execute("return location.href", vec![]).await.unwrap();
    assert!(!address.to_string().contains(&patient.id), "{address}");
    c.enter_parent_frame().await.unwrap();
    open_chart_of(c, &stack, &patient.id).await;
    wait_until_loaded(c).await;
    shown("vitals").await;
    assert_eq!(hash().await, "#vitals");
    let address = c.execute("return location.href", vec![]).await.unwrap();
    assert!(!address.to_string().contains(&patient.id), "{address}");
    assert_address_is_clean(c).await;
    c.clone().close().await.unwrap();
}

/// The Patient section of a Synthea patient shows what the Patient resource records (names,
/// identifiers with their type, phone, address, language, marital status, multiple birth),
/// read once for the banner and the section together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_patient_section_shows_the_record() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let patient = stack.ehr.patients()[1].clone();
    let resource = synthea_patient(&patient.id);
    open_chart_of(c, &stack, &patient.id).await;
    wait_until_loaded(c).await;
    show_section(c, "patient").await;
    let fields = patient_fields(c).await;
    let field = |label: &str| {
        fields
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {label} in {fields:?}"))
    };
    let official = resource["name"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["use"] == "official")
        .unwrap();
    assert!(
        field("Names").contains(&format!(
            "Official · {} {}",
            official["given"][0].as_str().unwrap(),
            official["family"].as_str().unwrap()
        )),
        "{fields:?}"
    );
    for identifier in resource["identifier"].as_array().unwrap() {
        let kind = identifier["type"]["text"]
            .as_str()
            .or(identifier["system"].as_str())
            .unwrap();
        let value = identifier["value"].as_str().unwrap();
        assert!(
            field("Identifiers").contains(&format!("{kind} · {value}")),
            "{kind} {value}: {fields:?}"
        );
    }
    let phone = resource["telecom"][0]["value"].as_str().unwrap();
    assert!(field("Phone and e-mail").contains(&format!("Phone · {phone}")));
    let address = &resource["address"][0];
    assert!(field("Addresses").starts_with(&format!(
        "{} · {}",
        address["line"][0].as_str().unwrap(),
        address["city"].as_str().unwrap()
    )));
    assert_eq!(
        field("Languages"),
        resource["communication"][0]["language"]["text"]
            .as_str()
            .unwrap()
    );
    assert_eq!(field("Marital status"), "Married");
    assert_eq!(field("Multiple birth"), "No");
    // One Patient read, for the banner and this section.
    let reads = count(
        &stack.ehr.requests(),
        "GET",
        &format!("/fhir/Patient/{}", patient.id),
    );
    assert_eq!(reads, 1);
    screenshot(c, "patient-section").await;
    c.clone().close().await.unwrap();
}

/// The Patient resource `id` from the development EHR's Synthea bundles.
fn synthea_patient(id: &str) -> serde_json::Value {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sandbox/data");
    for file in std::fs::read_dir(data).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bundle: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for entry in bundle["entry"].as_array().into_iter().flatten() {
            if entry["resource"]["resourceType"] == "Patient" && entry["resource"]["id"] == id {
                return entry["resource"].clone();
            }
        }
    }
    panic!("no Synthea patient {id}");
}

/// The hostile patient's record in the Patient section: markup and bidirectional controls in
/// every kind of field are shown as written, as text, each string in its own `<bdi>`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_patient_section_shows_hostile_content_as_text() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    open_chart_of(c, &stack, sandbox::Ehr::hostile_patient_id()).await;
    wait_until_loaded(c).await;
    show_section(c, "patient").await;
    let all = patient_fields(c)
        .await
        .iter()
        .map(|(label, items)| format!("{label}: {items}"))
        .collect::<Vec<_>>()
        .join("\n");
    for written in [
        "<img src=x onerror=alert(1)> Hostile",
        "HOSTILE-<b>0001</b>",
        "<script>alert(1)</script>555",
        "<b>1</b> \u{202E}Main",
        "<i>Farsi</i> · preferred",
        "<u>M</u>",
        "<svg onload=alert(1)>",
        "<a href=\"javascript:alert(1)\">Dr</a>",
        "Yes, born 2nd",
    ] {
        assert!(all.contains(written), "{written} is not shown: {all}");
    }
    let elements = c
        .execute(
            "const d = document.querySelector('.details'); \
             return [[...d.querySelectorAll('*')].map(e => e.tagName).filter(t => \
               !['DIV', 'DT', 'DD', 'UL', 'LI', 'BDI'].includes(t)), \
             [...d.querySelectorAll('li')].every(li => li.children.length > 0 && \
               [...li.children].every(e => e.tagName === 'BDI' && e.children.length === 0))]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(elements, json!([[], true]), "{all}");
    assert!(
        c.get_alert_text().await.is_err(),
        "a script from the record ran"
    );
    screenshot(c, "patient-section-hostile").await;
    c.clone().close().await.unwrap();
}

/// The Patient section's fields: each label and its items' text, items one a line.
async fn patient_fields(c: &fantoccini::Client) -> Vec<(String, String)> {
    serde_json::from_value(
        c.execute(
            "return [...document.querySelectorAll('.details__field')].map(f => \
               [f.querySelector('dt').textContent, \
                [...f.querySelectorAll('li')].map(li => li.textContent).join('\\n')])",
            vec![],
        )
        .await
        .unwrap(),
    )
    .unwrap()
}

/// No page logs an error (the favicon was a 404 on every page): the launch page, the start
/// page and every section of the chart. Both pages name an SVG icon that the release serves
/// and the CSP lets the page load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_page_logs_an_error_and_the_icon_loads() {
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    let icon_loads = || async {
        c.execute_async(
            "const done = arguments[arguments.length - 1]; \
             const link = document.querySelector('link[rel=icon]'); \
             if (!link) { done('no icon'); return; } \
             const img = new Image(); \
             img.onload = () => done('loaded ' + link.getAttribute('href')); \
             img.onerror = () => done('failed ' + link.href); \
             img.src = link.href;",
            vec![],
        )
        .await
        .unwrap()
    };
    c.goto(&stack.launch_page()).await.unwrap();
    text_of(c, ".system__name").await;
    assert_eq!(icon_loads().await, json!("loaded favicon.svg"));
    c.goto(&stack.app_url).await.unwrap();
    text_of(c, ".system__name").await;
    assert_eq!(icon_loads().await, json!("loaded favicon.svg"));
    open_chart_of(c, &stack, &stack.ehr.patients()[0].id).await;
    wait_until_loaded(c).await;
    assert_eq!(icon_loads().await, json!("loaded favicon.svg"));
    for section in SECTIONS {
        show_section(c, section).await;
    }
    wait_until_loaded(c).await;
    let log = c.issue_cmd(browser_log()).await.unwrap();
    let errors: Vec<&serde_json::Value> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| {
            entry["level"] == "SEVERE"
                && entry["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(&stack.app_url))
        })
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    c.clone().close().await.unwrap();
}

/// A trend shows its scale as text (lowest to highest, first to last date), the reference
/// range as a band, and each point's value and date on keyboard focus (arrow keys move along)
/// and under the mouse; its name says the whole trend. A flag reads as text with its meaning.
/// (The scale patient's labs carry reference ranges and H/L flags.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trends_show_their_scale_band_and_points_and_flags_read_as_text() {
    use fantoccini::actions::{InputSource, MouseActions, PointerAction};
    const LEFT: &str = "\u{E012}";
    const HOME: &str = "\u{E011}";
    let stack = start_stack().await;
    let b = browser().await;
    let c = &b.client;
    open_chart_of(c, &stack, sandbox::Ehr::scale_patient_id()).await;
    wait_until_loaded(c).await;
    show_section(c, "results").await;
    let js = |script: &'static str| async move {
        c.execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    };
    // Flags: the letter in sight, its meaning for screen readers.
    let flags =
        js("return [...document.querySelectorAll('.flag')].map(f => f.textContent.trim())").await;
    let flags: Vec<String> = serde_json::from_value(flags).unwrap();
    assert!(!flags.is_empty(), "no flagged result");
    for flag in &flags {
        assert!(["H (high)", "L (low)"].contains(&flag.as_str()), "{flag:?}");
    }
    // The first trend with a reference range.
    let svg = c
        .find(Locator::XPath(
            "//*[local-name()='svg'][*[local-name()='rect' and @class='spark__band']]",
        ))
        .await
        .unwrap();
    let name = svg.attr("aria-label").await.unwrap().unwrap();
    assert!(
        name.contains(" readings, ") && name.contains("; lowest to highest "),
        "{name}"
    );
    let caption = || async {
        c.execute(
            "return document.activeElement.closest('figure') ? \
             document.activeElement.closest('figure').querySelector('figcaption').textContent : ''",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
    };
    let scale = c
        .execute(
            "return arguments[0].closest('figure').querySelector('figcaption').textContent",
            vec![serde_json::to_value(&svg).unwrap()],
        )
        .await
        .unwrap();
    let scale = scale.as_str().unwrap().to_owned();
    let (range, dates) = scale.split_once(" · ").expect("range · dates");
    assert!(range.contains('–'), "{scale}");
    let (from, to) = dates.split_once(" – ").expect("first – last date");
    assert!(from.len() == 10 && to.len() == 10 && from < to, "{scale}");
    // Keyboard: focus shows the latest point; the arrows and Home move along.
    c.execute(
        "arguments[0].focus()",
        vec![serde_json::to_value(&svg).unwrap()],
    )
    .await
    .unwrap();
    let latest = caption().await;
    assert!(latest.contains(" on "), "{latest}");
    assert!(latest.contains(&format!(" on {to}")), "{latest} / {dates}");
    svg.send_keys(LEFT).await.unwrap();
    let before = caption().await;
    assert!(before.contains(" on ") && before != latest, "{before}");
    svg.send_keys(HOME).await.unwrap();
    let first = caption().await;
    assert!(first.contains(&format!(" on {from}")), "{first} / {dates}");
    // The mouse: the point nearest the pointer, at the left edge the first.
    svg.send_keys("\u{E004}").await.unwrap();
    let width = c
        .execute(
            "return arguments[0].getBoundingClientRect().width",
            vec![serde_json::to_value(&svg).unwrap()],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    c.perform_actions(
        MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
            element: svg.clone(),
            duration: None,
            x: 1.0 - width / 2.0,
            y: 0.0,
        }),
    )
    .await
    .unwrap();
    let hovered = c
        .execute(
            "return arguments[0].closest('figure').querySelector('figcaption').textContent",
            vec![serde_json::to_value(&svg).unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(hovered.as_str().unwrap(), first);
    screenshot(c, "trend-point").await;
    c.clone().close().await.unwrap();
}
