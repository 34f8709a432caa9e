//! The screens. Plain text only: every string from the EHR goes into a text node.

use leptos::prelude::*;

use crate::app::Chart;
use crate::domain::banner::Banner;
use crate::domain::problem::{NextStep, Problem};

pub fn working(status: &'static str) -> impl IntoView {
    view! {
        <section class="screen screen--working" aria-busy="true">
            <p class="status" role="status">{status}</p>
        </section>
    }
}

pub fn welcome() -> impl IntoView {
    view! {
        <section class="screen screen--welcome">
            <h1>"Cairn"</h1>
            <p>"Cairn opens from your EHR: choose it from a patient's chart there."</p>
        </section>
    }
}

pub fn problem(problem: Problem) -> impl IntoView {
    let next = match problem.next_step {
        NextStep::Relaunch => "Open Cairn again from your EHR.",
        NextStep::TryAgain => {
            "Try again in a moment. If it keeps happening, contact your support desk."
        }
        NextStep::ContactSupport => "Contact your support desk and tell them what this page says.",
    };
    let retry = matches!(problem.next_step, NextStep::TryAgain).then(|| {
        view! {
            <button class="button" on:click=|_| crate::web::location::reload()>
                "Try again"
            </button>
        }
    });
    view! {
        <section class="screen screen--problem" role="alert">
            <h1 class="problem__title">{problem.title}</h1>
            <p class="problem__detail">{problem.detail}</p>
            <p class="problem__next">{next}</p>
            {retry}
        </section>
    }
}

pub fn chart(chart: Chart) -> impl IntoView {
    let note = if chart.has_banner() {
        "Signed in. This version of Cairn shows the patient banner; encounters and observations are not shown yet."
    } else {
        "Signed in. Your EHR shows the patient's details; encounters and observations are not shown yet."
    };
    view! {
        {chart.banner.map(patient_banner)}
        <section class="chart__body">
            <p class="status">{note}</p>
        </section>
    }
}

fn patient_banner(b: Banner) -> impl IntoView {
    let field = |label: &'static str, value: Option<String>| {
        value.map(|v| {
            view! {
                <div class="banner__field">
                    <dt>{label}</dt>
                    <dd>{v}</dd>
                </div>
            }
        })
    };
    view! {
        <header class="banner" aria-label="Patient">
            <h1 class="banner__name">
                <bdi>{b.name}</bdi>
            </h1>
            <dl class="banner__facts">
                {field("Born", b.birth_date)}
                {field("Age", b.age)}
                {field("Gender", b.gender)}
                {field("MRN", b.mrn)}
            </dl>
            {b.deceased.map(|d| view! { <p class="banner__deceased">{d}</p> })}
        </header>
    }
}
