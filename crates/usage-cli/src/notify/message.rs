//! What an alert says, and the body each kind of receiver takes: a generic JSON document
//! (the alert's fields, for a pipeline of one's own), Slack's incoming webhooks (`text`, in
//! its markup, with `&`, `<` and `>` escaped as Slack asks) and Microsoft Teams' workflow
//! webhooks (a message with one Adaptive Card).

use serde_json::{Value, json};

/// One alert: a title, its lines (each a fact with the command to run for more), and the
/// fields a program reads (the generic body carries them as they are).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub title: String,
    pub lines: Vec<String>,
    /// An object: merged into the generic body.
    pub fields: Value,
}

/// Which body a webhook takes (`--notify-format`; by default from the URL's host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// `{"source", "title", "text", ...the alert's fields}`.
    Generic,
    /// Slack's incoming webhooks: `{"text"}`.
    Slack,
    /// A Microsoft Teams workflow ("When a Teams webhook request is received"): a message
    /// with one Adaptive Card.
    Teams,
}

impl Shape {
    /// The shape a webhook's host says: Slack's, Teams' (its workflows' hosts, and the
    /// retired connectors'), else the generic one.
    pub fn of_host(host: &str) -> Shape {
        let host = host.to_ascii_lowercase();
        let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
        if under("hooks.slack.com") {
            Shape::Slack
        } else if [
            "webhook.office.com",
            "logic.azure.com",
            "powerplatform.com",
            "powerautomate.com",
        ]
        .iter()
        .any(|d| under(d))
        {
            Shape::Teams
        } else {
            Shape::Generic
        }
    }

    /// The POST's body for `alert`.
    pub fn body(self, alert: &Alert) -> Value {
        match self {
            Shape::Generic => {
                let mut body = json!({
                    "source": "genesys-usage",
                    "title": alert.title,
                    "text": alert.lines.join("\n"),
                });
                if let (Some(body), Some(fields)) = (body.as_object_mut(), alert.fields.as_object())
                {
                    for (k, v) in fields {
                        body.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                body
            }
            Shape::Slack => {
                let mut text = format!("*{}*", slack(&alert.title));
                for line in &alert.lines {
                    text.push_str("\n• ");
                    text.push_str(&slack(line));
                }
                json!({ "text": text })
            }
            Shape::Teams => {
                let mut blocks = vec![json!({
                    "type": "TextBlock", "text": alert.title, "weight": "Bolder", "wrap": true,
                })];
                blocks.extend(
                    alert
                        .lines
                        .iter()
                        .map(|line| json!({"type": "TextBlock", "text": line, "wrap": true})),
                );
                json!({
                    "type": "message",
                    "attachments": [{
                        "contentType": "application/vnd.microsoft.card.adaptive",
                        "content": {
                            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                            "type": "AdaptiveCard",
                            "version": "1.4",
                            "body": blocks,
                        },
                    }],
                })
            }
        }
    }
}

/// Text as Slack's markup takes it: its three control characters escaped, so that a
/// client's name cannot make a link or a mention.
fn slack(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            title: "2 breaches".into(),
            lines: vec!["<!channel> & co: 12 hours".into(), "b".into()],
            fields: json!({"command": "check", "title": "not this one"}),
        }
    }

    #[test]
    fn each_receiver_gets_its_shape() {
        assert_eq!(Shape::of_host("hooks.slack.com"), Shape::Slack);
        assert_eq!(
            Shape::of_host("prod-12.westus.logic.azure.com"),
            Shape::Teams
        );
        assert_eq!(Shape::of_host("x.webhook.office.com"), Shape::Teams);
        assert_eq!(Shape::of_host("notslack.com"), Shape::Generic);
        assert_eq!(Shape::of_host("127.0.0.1"), Shape::Generic);

        let generic = Shape::Generic.body(&alert());
        assert_eq!(generic["source"], "genesys-usage");
        assert_eq!(
            generic["title"], "2 breaches",
            "the alert's own fields first"
        );
        assert_eq!(generic["command"], "check");
        assert_eq!(generic["text"], "<!channel> & co: 12 hours\nb");

        let slack = Shape::Slack.body(&alert());
        assert_eq!(
            slack["text"],
            "*2 breaches*\n• &lt;!channel&gt; &amp; co: 12 hours\n• b"
        );

        let teams = Shape::Teams.body(&alert());
        let card = &teams["attachments"][0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["body"][0]["text"], "2 breaches");
        assert_eq!(card["body"][2]["text"], "b");
    }
}
