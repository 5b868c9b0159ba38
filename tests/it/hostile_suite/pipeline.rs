//! One pipeline: every fault, against each of the eleven operations, ends the same way.

use super::*;

type Call = for<'a> fn(&'a Client) -> usage_client::BoxFuture<'a, Result<(), UsageError>>;

/// The eleven operations, each called with valid arguments; the answer's value is dropped.
fn every_operation() -> Vec<(&'static str, Call, bool)> {
    use usage_client::models::*;
    fn done<T>(r: Result<T, UsageError>) -> Result<(), UsageError> {
        r.map(drop)
    }
    vec![
        (
            "postUsageQuery",
            |c| Box::pin(async move { done(c.post_usage_query(&query()).await) }),
            true,
        ),
        (
            "getUsageQueryExecutionIdResults",
            |c| {
                Box::pin(
                    async move { done(c.get_usage_query_execution_id_results("exec-1").await) },
                )
            },
            false,
        ),
        (
            "postOauthClientUsageQuery",
            |c| {
                Box::pin(async move {
                    let q = ApiUsageClientQuery::new("2026-10-01T00:00:00Z/2026-11-01T00:00:00Z");
                    done(c.post_oauth_client_usage_query("client-1", &q).await)
                })
            },
            true,
        ),
        (
            "getOauthClientUsageQueryResult",
            |c| {
                Box::pin(async move {
                    done(
                        c.get_oauth_client_usage_query_result("client-1", "exec-1")
                            .await,
                    )
                })
            },
            false,
        ),
        (
            "getOauthClientUsageSummary",
            |c| {
                Box::pin(
                    async move { done(c.get_oauth_client_usage_summary("client-1", None).await) },
                )
            },
            false,
        ),
        (
            "postUsageAggregatesQueryJobs",
            |c| {
                Box::pin(async move {
                    let q: OrganizationPublicApiUsageQueryRequest =
                        serde_json::from_value(json!({"interval": "2026-10-01/2026-10-08"}))
                            .unwrap();
                    done(c.post_usage_aggregates_query_jobs(&q).await)
                })
            },
            true,
        ),
        (
            "getUsageAggregatesQueryJob",
            |c| {
                Box::pin(async move {
                    done(c.get_usage_aggregates_query_job("job-1", None, None).await)
                })
            },
            false,
        ),
        (
            "postUsageClientClientIdAggregatesQueryJobs",
            |c| {
                Box::pin(async move {
                    let q: ClientPublicApiUsageQueryRequest =
                        serde_json::from_value(json!({"interval": "2026-10-01/2026-10-08"}))
                            .unwrap();
                    done(
                        c.post_usage_client_client_id_aggregates_query_jobs("client-1", &q)
                            .await,
                    )
                })
            },
            true,
        ),
        (
            "getUsageClientClientIdAggregatesQueryJob",
            |c| {
                Box::pin(async move {
                    done(
                        c.get_usage_client_client_id_aggregates_query_job(
                            "client-1", "job-1", None, None,
                        )
                        .await,
                    )
                })
            },
            false,
        ),
        (
            "postUsageSimplesearch",
            |c| {
                Box::pin(async move {
                    let q: ApiUsageSimpleSearch = serde_json::from_value(
                        json!({"interval": "2026-10-01T00:00:00Z/2026-10-08T00:00:00Z"}),
                    )
                    .unwrap();
                    done(c.post_usage_simplesearch(&q).await)
                })
            },
            true,
        ),
        (
            "getUsageSimplesearchExecutionIdResults",
            |c| {
                Box::pin(async move {
                    done(
                        c.get_usage_simplesearch_execution_id_results("exec-1", None, None)
                            .await,
                    )
                })
            },
            false,
        ),
        // The limits family.
        (
            "postAnalyticsRatelimitsAggregatesQuery",
            |c| {
                Box::pin(async move {
                    let q: RateLimitAggregationQuery = serde_json::from_value(json!({
                        "interval": "2026-10-01T00:00:00Z/2026-10-08T00:00:00Z",
                        "metrics": ["oRateLimitRecorded"]}))
                    .unwrap();
                    done(c.post_analytics_ratelimits_aggregates_query(&q).await)
                })
            },
            true,
        ),
        (
            "getOrganizationsLimitsNamespaces",
            |c| {
                Box::pin(
                    async move { done(c.get_organizations_limits_namespaces(None, None).await) },
                )
            },
            false,
        ),
        (
            "getOrganizationsLimitsNamespace",
            |c| {
                Box::pin(
                    async move { done(c.get_organizations_limits_namespace("platform.api").await) },
                )
            },
            false,
        ),
        (
            "getOrganizationsLimitsNamespaceDefaults",
            |c| {
                Box::pin(async move {
                    done(
                        c.get_organizations_limits_namespace_defaults("platform.api")
                            .await,
                    )
                })
            },
            false,
        ),
        (
            "getOrganizationsLimitsDocs",
            |c| Box::pin(async move { done(c.get_organizations_limits_docs().await) }),
            false,
        ),
        (
            "getOrganizationsLimitsChangerequests",
            |c| {
                Box::pin(async move {
                    done(
                        c.get_organizations_limits_changerequests(None, None, None, None, None)
                            .await,
                    )
                })
            },
            false,
        ),
        (
            "getOrganizationsLimitsChangerequest",
            |c| {
                Box::pin(
                    async move { done(c.get_organizations_limits_changerequest("req-1").await) },
                )
            },
            false,
        ),
        (
            "getUsageEventsDefinitions",
            |c| Box::pin(async move { done(c.get_usage_events_definitions().await) }),
            false,
        ),
        (
            "getUsageEventsDefinition",
            |c| Box::pin(async move { done(c.get_usage_events_definition("def-1").await) }),
            false,
        ),
        (
            "postUsageEventsQuery",
            |c| {
                Box::pin(async move {
                    let q: EventQueryRequest = serde_json::from_value(json!({
                        "interval": "2026-10-01T00:00:00Z/2026-10-08T00:00:00Z"}))
                    .unwrap();
                    done(c.post_usage_events_query(None, None, None, &q).await)
                })
            },
            true,
        ),
        (
            "postUsageEventsAggregatesQuery",
            |c| {
                Box::pin(async move {
                    let q: EventAggregatesQueryRequest = serde_json::from_value(json!({
                        "interval": "2026-10-01T00:00:00Z/2026-10-08T00:00:00Z"}))
                    .unwrap();
                    done(c.post_usage_events_aggregates_query(&q).await)
                })
            },
            true,
        ),
    ]
}

#[test]
fn every_operation_of_the_spec_is_exercised() {
    let exercised: Vec<&str> = every_operation().iter().map(|(name, ..)| *name).collect();
    let listed: Vec<&str> = usage_client::OPERATIONS
        .iter()
        .map(|op| op.operation_id)
        .collect();
    assert_eq!(exercised, listed);
}

/// What a fault must give, for a GET and for a POST (which may have started a query).
#[derive(Debug, Clone, Copy)]
enum Expect {
    Redirected,
    TooLarge,
    Status(u16),
    Transport,
    Decode,
}

fn check(expect: Expect, post: bool, err: &UsageError) -> bool {
    let inner = match err {
        UsageError::OutcomeUnknown { cause } if post => &**cause,
        other => other,
    };
    let typed = match expect {
        Expect::Redirected => matches!(inner, UsageError::Redirected { status: 302, .. }),
        Expect::TooLarge => matches!(inner, UsageError::ResponseTooLarge { .. }),
        Expect::Status(s) => inner.status() == Some(s) && inner.body().is_some(),
        Expect::Transport => {
            matches!(
                inner,
                UsageError::Network { .. } | UsageError::Timeout { .. }
            )
        }
        Expect::Decode => matches!(inner, UsageError::Decode { .. }),
    };
    // A POST is `OutcomeUnknown` exactly when it may have reached the service and got no
    // clear answer: a 5xx, a broken or endless answer; never a redirect or a 4xx.
    let unknown = matches!(err, UsageError::OutcomeUnknown { .. });
    let should_be_unknown = post
        && matches!(
            expect,
            Expect::TooLarge | Expect::Transport | Expect::Status(500..=599)
        );
    typed && unknown == should_be_unknown
}

#[tokio::test]
async fn every_fault_gives_every_operation_the_same_typed_error_and_retries() {
    let faults: Vec<(&str, Act, Expect, usize, usize)> = vec![
        // (fault, answer, expected error, sends of a GET, sends of a POST)
        (
            "redirect",
            Act::redirect(302, "http://127.0.0.2:1/elsewhere"),
            Expect::Redirected,
            1,
            1,
        ),
        (
            "endless body",
            Act::EndlessChunked { status: 200 },
            Expect::TooLarge,
            1,
            1,
        ),
        (
            "Content-Length over the cap",
            Act::Raw(b"HTTP/1.1 200 OK\r\ncontent-length: 10000000000\r\n\r\n".to_vec()),
            Expect::TooLarge,
            1,
            1,
        ),
        (
            "endless error body",
            Act::EndlessChunked { status: 503 },
            Expect::Status(503),
            4,
            1,
        ),
        (
            "HTML 502",
            Act::Reply {
                status: 502,
                headers: vec![("content-type".into(), "text/html".into())],
                body: b"<html>Bad Gateway</html>".to_vec(),
            },
            Expect::Status(502),
            4,
            1,
        ),
        (
            "429 with Retry-After",
            Act::json(429, json!({"status": 429})).with("retry-after", "0"),
            Expect::Status(429),
            4,
            4,
        ),
        (
            "400",
            Act::json(400, json!({"status": 400, "code": "bad.request"})),
            Expect::Status(400),
            1,
            1,
        ),
        (
            "closed mid-body",
            Act::CloseMidBody {
                status: 200,
                declared: 100,
                sent: b"{\"a\":".to_vec(),
            },
            Expect::Transport,
            4,
            1,
        ),
        ("stall", Act::Stall, Expect::Transport, 4, 1),
        (
            "not JSON",
            Act::Reply {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: b"<html>ok</html>".to_vec(),
            },
            Expect::Decode,
            1,
            1,
        ),
    ];
    for (fault, act, expect, get_sends, post_sends) in faults {
        let server = with_token(act).await;
        let client = builder(&server)
            .timeout(Duration::from_millis(200))
            .max_response_bytes(MIB)
            .build()
            .unwrap();
        for (name, call, post) in every_operation() {
            let before = server.log().iter().filter(|l| l.path() != TOKEN).count();
            let err = call(&client).await.unwrap_err();
            assert!(check(expect, post, &err), "{fault}, {name}: {err:?}");
            let sent = server.log().iter().filter(|l| l.path() != TOKEN).count() - before;
            let want = if post { post_sends } else { get_sends };
            assert_eq!(sent, want, "{fault}, {name}: sends");
            // Boxed as most programs' `main` does, the error still names its real cause.
            let boxed: Box<dyn std::error::Error> = Box::new(err);
            assert!(
                !boxed.to_string().contains("no.url.provided"),
                "{fault}, {name}: {boxed}"
            );
        }
    }
}

#[tokio::test]
async fn an_error_boxed_as_dyn_error_names_its_cause() {
    // Nothing listens: the natural `?` into `Box<dyn Error>` says so.
    let dead = dead_port().await;
    let client = Client::builder()
        .base_url(&format!("http://{dead}"))
        .access_token("t")
        .no_proxy()
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    async fn run(client: &Client) -> Result<(), Box<dyn std::error::Error>> {
        client.post_usage_query(&query()).await?;
        Ok(())
    }
    let err = run(&client).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("network error"), "{text}");
    assert!(
        text.contains("4 attempts"),
        "a refused connection is retried: {text}"
    );
    assert!(!text.contains("no.url.provided"), "{text}");
    let mut chain = err.source();
    let mut reqwest_seen = false;
    while let Some(e) = chain {
        reqwest_seen |= e.downcast_ref::<reqwest::Error>().is_some();
        chain = e.source();
    }
    assert!(
        reqwest_seen,
        "the HTTP stack's error stays reachable as a source"
    );
}
