//! A wait outlives an outage: failed polls are absorbed on a budget of time, backed off.

use super::*;

use usage_client::Clock;
use usage_tests::ManualClock;

/// A results endpoint that answers `Running` for 5 s, 503 for the next 30 s, then
/// `Complete`: on the default schedule the wait completes, and the outage costs a few GETs.
#[tokio::test]
async fn a_wait_rides_out_half_a_minute_of_503s_with_a_few_gets() {
    let clock = ManualClock::new();
    let t0 = clock.now();
    let seen_at = clock.clone();
    let server = Hostile::start(move |req, _| {
        let at = seen_at.now() - t0;
        match req.path() {
            TOKEN => token_ok(),
            SUBMIT => submitted(),
            _ if at < Duration::from_secs(5) => running(),
            _ if at < Duration::from_secs(35) => Act::json(503, json!({"status": 503})),
            _ => Act::json(
                200,
                json!({"queryStatus": "Complete", "results": [{"requests": 7}]}),
            ),
        }
    })
    .await;
    let client = builder(&server).clock(clock.clone()).build().unwrap();
    let q = UsageQueries::new(client)
        .with_policy(PollPolicy::default())
        .unwrap();
    let mut events = Vec::new();
    let execution = q.submit_organization(&query()).await.unwrap();
    let result = execution
        .wait_with(&q, |e| events.push((e.elapsed, e.status.clone())))
        .await
        .expect("the wait outlives the outage");
    assert_eq!(result.results.len(), 1);
    let failed: Vec<Duration> = events
        .iter()
        .filter(|(_, s)| matches!(s, PollStatus::Transient(m) if m.contains("503")))
        .map(|(at, _)| *at)
        .collect();
    // Polls before the outage at 0.06, 0.18, 0.41, 0.85, 1.72 and 3.41 s, the schedule's
    // waits growing x1.95; in the outage at 6.7 s, then 10 s apart (the schedule's cap,
    // longer than the failure backoff by then): four GETs for 30 s of outage.
    assert_eq!(failed.len(), 4, "{events:?}");
    assert!(failed[0] >= Duration::from_secs(5), "{failed:?}");
    let gaps: Vec<u128> = failed
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    assert!(gaps.iter().all(|g| *g >= 1_000), "backed off: {gaps:?}");
    assert_eq!(server.count(RESULTS), events.len(), "one GET per poll");
    let (done_at, done) = events.last().unwrap();
    assert_eq!(*done, PollStatus::Complete);
    assert!(*done_at < Duration::from_secs(46), "{done_at:?}");
}

/// A 429 with a `Retry-After` inside an outage is waited as asked, and does not end it.
#[tokio::test]
async fn a_rate_limit_inside_an_outage_is_waited_and_the_failure_budget_still_ends_it() {
    let clock = ManualClock::new();
    let server = Hostile::start(move |req, earlier| match req.path() {
        TOKEN => token_ok(),
        SUBMIT => submitted(),
        _ if earlier.iter().filter(|l| l.path() == RESULTS).count() % 3 == 1 => {
            Act::json(429, json!({"status": 429})).with("retry-after", 7)
        }
        _ => Act::json(502, json!({"status": 502})),
    })
    .await;
    let client = builder(&server).clock(clock.clone()).build().unwrap();
    let q = UsageQueries::new(client)
        .with_policy(PollPolicy::default().with_failure_budget(Duration::from_secs(30)))
        .unwrap();
    let err = q.organization_usage(&query()).await.unwrap_err();
    let Error::PollsFailing {
        polls,
        failed_polls,
        failing_for,
        ref source,
        ..
    } = err
    else {
        panic!("expected polls that kept failing, got {err:?}");
    };
    assert_eq!(source.status(), Some(502), "{source:?}");
    assert!(failing_for >= Duration::from_secs(30), "{failing_for:?}");
    assert!(failed_polls < polls, "the 429s are not failures: {err}");
    assert_eq!(server.count(RESULTS), polls as usize);
    assert!(
        clock.sleeps().iter().any(|d| *d >= Duration::from_secs(7)),
        "Retry-After honoured: {:?}",
        clock.sleeps()
    );
}
