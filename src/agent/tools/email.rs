//! email-alerts: a real e-mail to the fraud team through Amazon SES v2 or,
//! when configured, an SMTP relay. The SES client is built on first use from
//! the standard AWS chain (credentials, region, `AWS_ENDPOINT_URL_SESV2`).

use super::super::config::{EmailConfig, SmtpConfig, SmtpSecurity};
use super::super::escalation::Escalation;
use super::super::mask::mask_text;
use super::ToolError;
use aws_sdk_sesv2::config::Region;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

pub struct Mailer {
    config: EmailConfig,
    client: OnceCell<aws_sdk_sesv2::Client>,
}

impl Mailer {
    pub fn new(config: EmailConfig) -> Mailer {
        Mailer {
            config,
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> &aws_sdk_sesv2::Client {
        self.client
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                if let Some(region) = &self.config.region {
                    loader = loader.region(Region::new(region.clone()));
                }
                let shared = loader.load().await;
                let mut builder = aws_sdk_sesv2::config::Builder::from(&shared);
                if shared.region().is_none() {
                    builder = builder.region(Region::new("us-west-2"));
                }
                if let Some(endpoint) = &self.config.endpoint_url {
                    builder = builder.endpoint_url(endpoint);
                }
                aws_sdk_sesv2::Client::from_conf(builder.build())
            })
            .await
    }

    /// Sends the alert; returns SES's message id with what was sent.
    pub async fn alert(
        &self,
        escalation: &Escalation,
        arguments: &Value,
    ) -> Result<Value, ToolError> {
        let decision = &escalation.decision;
        let severity = arguments["severity"].as_str().unwrap_or("HIGH");
        let note = arguments["message"].as_str().unwrap_or("");
        let subject = format!(
            "[{severity}] Fraud alert: {} {} risk {}",
            decision.transaction_id,
            decision.action.as_str(),
            decision.risk_score
        );
        let reasons: Vec<String> = decision
            .reasons
            .iter()
            .filter(|reason| reason.points != 0)
            .map(|reason| format!("- {}: {}", reason.code.as_str(), reason.detail))
            .collect();
        let body = mask_text(&format!(
            "Transaction {} of customer {}: {:.2} {}\nEngine decision: {} (risk {})\nReasons:\n{}\n\nAgent note: {}\n",
            decision.transaction_id,
            decision.customer_id,
            decision.amount,
            decision.currency.as_deref().unwrap_or(""),
            decision.action.as_str(),
            decision.risk_score,
            reasons.join("\n"),
            note,
        ));
        let (transport, message_id) = match &self.config.smtp {
            Some(smtp) => ("smtp", self.send_smtp(smtp, &subject, &body).await?),
            None => ("ses", self.send_ses(&subject, &body).await?),
        };
        Ok(json!({
            "sent": true,
            "transport": transport,
            "message_id": message_id,
            "recipients": self.config.to.iter().map(|to| mask_text(to)).collect::<Vec<_>>(),
            "subject": subject,
        }))
    }

    async fn send_ses(&self, subject: &str, body: &str) -> Result<Option<String>, ToolError> {
        let text = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|error| ToolError::Failed(error.to_string()))
        };
        let message = Message::builder()
            .subject(text(subject)?)
            .body(Body::builder().text(text(body)?).build())
            .build();
        let sent = self
            .client()
            .await
            .send_email()
            .from_email_address(&self.config.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(self.config.to.clone()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|error| {
                ToolError::Failed(format!(
                    "SES send_email: {}",
                    aws_sdk_sesv2::error::DisplayErrorContext(&error)
                ))
            })?;
        Ok(sent.message_id().map(str::to_owned))
    }

    async fn send_smtp(
        &self,
        smtp: &SmtpConfig,
        subject: &str,
        body: &str,
    ) -> Result<Option<String>, ToolError> {
        use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
        let failed = |what: &str, error: &dyn std::fmt::Display| {
            ToolError::Failed(format!("SMTP {what}: {error}"))
        };
        let address = |text: &str| {
            text.parse::<lettre::message::Mailbox>()
                .map_err(|error| failed(&format!("address {text}"), &error))
        };
        let mut message = lettre::Message::builder()
            .from(address(&self.config.from)?)
            .subject(subject);
        for to in &self.config.to {
            message = message.to(address(to)?);
        }
        let message = message
            .body(body.to_owned())
            .map_err(|error| failed("message", &error))?;
        let builder = match smtp.security {
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                    .map_err(|error| failed("relay", &error))?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                .map_err(|error| failed("relay", &error))?,
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            }
        };
        let mut builder = builder
            .port(smtp.port)
            .timeout(Some(std::time::Duration::from_secs(10)));
        if let (Ok(user), Ok(password)) = (
            std::env::var("FD_SMTP_USERNAME"),
            std::env::var("FD_SMTP_PASSWORD"),
        ) {
            builder = builder.credentials(
                lettre::transport::smtp::authentication::Credentials::new(user, password),
            );
        }
        let response = builder
            .build()
            .send(message)
            .await
            .map_err(|error| failed("send", &error))?;
        Ok(Some(response.message().collect::<Vec<_>>().join(" ")))
    }
}
