//! The two services of the walkthrough: user management, which stores users and asks the
//! notification service to send messages, and the notification service.
//!
//! The only X-Ray code here is one `.layer(XrayLayer::new(..))` per router, the
//! `XrayMiddleware` on the outbound client, the traced pools in [`Store`], the
//! `XrayInterceptor` on the SES client, and a few annotations and a subsegment where the
//! walkthrough has them.
//!
//! The notification service sends its e-mail through SES v2 (`aws-sdk-sesv2`) when
//! `AWS_ENDPOINT_URL` is set, and only records a local `send-email` subsegment otherwise.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use reqwest_middleware::ClientWithMiddleware;
use serde::Deserialize;
use serde_json::{Value, json};
use xray_reqwest::XrayMiddleware;
use xray_tower::XrayLayer;

use crate::store::{Store, User};

type Reply = (StatusCode, Json<Value>);

fn reply(status: StatusCode, body: Value) -> Reply {
    (status, Json(body))
}

/// Shared state of the user-management service.
pub struct UserManagement {
    store: Store,
    notification_url: String,
    client: ClientWithMiddleware,
    next_id: AtomicI64,
}

/// Body of `POST /usermgmt/user`.
#[derive(Deserialize)]
pub struct NewUser {
    name: Option<String>,
    email: Option<String>,
}

/// Body of `POST /usermgmt/notification`.
#[derive(Deserialize)]
pub struct NotifyRequest {
    #[serde(rename = "userId")]
    user_id: i64,
    message: String,
}

/// The user-management router: `POST /usermgmt/user`, `GET /usermgmt/users`,
/// `POST /usermgmt/notification`, `GET /usermgmt/health-status`.
pub fn user_management(store: Store, notification_url: String) -> Router {
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).with(XrayMiddleware::default()).build();
    let state = Arc::new(UserManagement { store, notification_url, client, next_id: AtomicI64::new(1) });
    Router::new()
        .route("/usermgmt/user", post(create_user))
        .route("/usermgmt/users", get(list_users))
        .route("/usermgmt/notification", post(notify))
        .route("/usermgmt/health-status", get(|| async { "healthy" }))
        .with_state(state)
        .layer(XrayLayer::new("user-management").with_route_annotation(true).with_axum_body())
}

async fn create_user(State(app): State<Arc<UserManagement>>, Json(body): Json<NewUser>) -> Reply {
    let segment = xray_core::current();
    segment.annotate("operation", "create-user");
    let (Some(name), Some(email)) = (body.name, body.email.filter(|e| e.contains('@'))) else {
        segment.add_metadata("validation", "name and a valid email are required");
        return reply(StatusCode::BAD_REQUEST, json!({"error": "name and a valid email are required"}));
    };
    let user = User { id: app.next_id.fetch_add(1, Ordering::Relaxed), name, email };
    segment.annotate("userId", user.id);
    let user = validate_and_normalize(user).await;
    match app.store.insert_user(&user).await {
        Ok(()) => {
            tracing::info!(user_id = user.id, "user created");
            reply(StatusCode::CREATED, json!(user))
        }
        Err(err) => {
            tracing::error!(error = %err, "storing the user failed");
            reply(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": err.to_string()}))
        }
    }
}

/// A piece of in-process work. `xray-tracing` records the `#[instrument]` span as the
/// subsegment `validate-and-normalize`, with the `user_id` field as an annotation.
#[tracing::instrument(name = "validate-and-normalize", skip_all, fields(xray.annotation.user_id = user.id))]
async fn validate_and_normalize(user: User) -> User {
    User { email: user.email.to_lowercase(), ..user }
}

async fn list_users(State(app): State<Arc<UserManagement>>) -> Reply {
    xray_core::current().annotate("operation", "list-users");
    match app.store.list_users().await {
        Ok(users) => {
            xray_core::current().add_metadata("count", users.len());
            reply(StatusCode::OK, json!(users))
        }
        Err(err) => reply(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": err.to_string()})),
    }
}

async fn notify(State(app): State<Arc<UserManagement>>, Json(body): Json<NotifyRequest>) -> Reply {
    let segment = xray_core::current();
    segment.annotate("operation", "notify-user");
    segment.annotate("userId", body.user_id);
    let user = match app.store.find_user(body.user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return reply(StatusCode::NOT_FOUND, json!({"error": "no such user"})),
        Err(err) => return reply(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": err.to_string()})),
    };
    let sent = app
        .client
        .post(format!("{}/notification/send", app.notification_url))
        .json(&json!({"recipient": user.email, "message": body.message}))
        .send()
        .await;
    match sent {
        Ok(resp) if resp.status().is_success() => reply(StatusCode::OK, json!({"sent": true})),
        Ok(resp) => {
            reply(StatusCode::BAD_GATEWAY, json!({"error": format!("notification answered {}", resp.status())}))
        }
        Err(err) => reply(StatusCode::BAD_GATEWAY, json!({"error": err.to_string()})),
    }
}

/// Shared state of the notification service.
pub struct Notification {
    outbox: Store,
    next_id: AtomicI64,
    /// SES, when `AWS_ENDPOINT_URL` names an endpoint.
    ses: Option<aws_sdk_sesv2::Client>,
    /// The sender's identity, created in SES once.
    sender_ready: tokio::sync::OnceCell<()>,
}

/// The address the notification service sends from.
const SENDER: &str = "noreply@example.com";

/// An SES v2 client for `AWS_ENDPOINT_URL` (region `AWS_REGION`, else `us-east-1`; the
/// credentials of `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, else test ones), traced by
/// `XrayInterceptor`; `None` when the variable is unset. Its HTTP client speaks plain HTTP,
/// for a local emulator.
pub fn ses_from_env() -> Option<aws_sdk_sesv2::Client> {
    use aws_sdk_sesv2::config::{BehaviorVersion, Builder, Credentials, Region};
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.is_empty())?;
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let credentials = Credentials::new(
        var("AWS_ACCESS_KEY_ID", "testing"),
        var("AWS_SECRET_ACCESS_KEY", "testing"),
        None,
        None,
        "env",
    );
    let config = Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(var("AWS_REGION", "us-east-1")))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .http_client(aws_smithy_http_client::Builder::new().build_http());
    Some(aws_sdk_sesv2::Client::from_conf(xray_aws_sdk::instrument(config).build()))
}

/// Body of `POST /notification/send`.
#[derive(Deserialize)]
pub struct SendRequest {
    recipient: String,
    message: String,
}

/// The notification router: `POST /notification/send`. Recipients at `bounce.example` fail,
/// as a mail provider outage would. The e-mail goes through SES when `AWS_ENDPOINT_URL` is set
/// ([`ses_from_env`]).
pub fn notification(outbox: Store) -> Router {
    let ses = ses_from_env();
    let state = Arc::new(Notification { outbox, next_id: AtomicI64::new(1), ses, sender_ready: Default::default() });
    Router::new()
        .route("/notification/send", post(send))
        .with_state(state)
        .layer(XrayLayer::new("notification").with_route_annotation(true).with_axum_body())
}

async fn send(State(app): State<Arc<Notification>>, Json(body): Json<SendRequest>) -> Reply {
    xray_core::current().annotate("operation", "send-notification");
    let delivered = xray_core::in_subsegment("send-email", async {
        let email = xray_core::current();
        email.annotate("recipient", body.recipient.as_str());
        let ok = !body.recipient.ends_with("@bounce.example");
        email.annotate("status", if ok { "delivered" } else { "bounced" });
        if !ok {
            tracing::warn!("the mail provider bounced the message");
            email.set_fault();
            return false;
        }
        match &app.ses {
            Some(ses) => send_through_ses(&app, ses, &body).await,
            None => true,
        }
    })
    .await;
    if !delivered {
        return reply(StatusCode::SERVICE_UNAVAILABLE, json!({"error": "mail provider unavailable"}));
    }
    let id = app.next_id.fetch_add(1, Ordering::Relaxed);
    match app.outbox.store_message(id, &body.recipient, &body.message).await {
        Ok(()) => reply(StatusCode::OK, json!({"id": id})),
        Err(err) => reply(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": err.to_string()})),
    }
}

/// Sends the e-mail through SES: an `SES` subsegment with `aws.operation` `SendEmail` (and,
/// the first time, `CreateEmailIdentity` for the sender).
async fn send_through_ses(app: &Notification, ses: &aws_sdk_sesv2::Client, body: &SendRequest) -> bool {
    use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
    let ready = app
        .sender_ready
        .get_or_try_init(|| async { ses.create_email_identity().email_identity(SENDER).send().await.map(|_| ()) })
        .await;
    if let Err(err) = ready {
        tracing::warn!("SES did not take the sender identity: {err}");
        return false;
    }
    let text = |data: &str| Content::builder().data(data).build();
    let (Ok(subject), Ok(message)) = (text("Notification"), text(&body.message)) else { return false };
    let content = EmailContent::builder()
        .simple(Message::builder().subject(subject).body(Body::builder().text(message).build()).build())
        .build();
    let sent = ses
        .send_email()
        .from_email_address(SENDER)
        .destination(Destination::builder().to_addresses(&body.recipient).build())
        .content(content)
        .send()
        .await;
    match sent {
        Ok(out) => {
            tracing::info!(message_id = out.message_id().unwrap_or("-"), "e-mail sent through SES");
            true
        }
        Err(err) => {
            tracing::warn!("SES did not send the e-mail: {}", aws_sdk_sesv2::error::DisplayErrorContext(&err));
            false
        }
    }
}
