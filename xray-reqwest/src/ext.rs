//! [`TracedRequestBuilderExt`]: tracing for plain `reqwest`, without `reqwest-middleware`.

use std::future::Future;

use reqwest::{RequestBuilder, Response};

use crate::call;
use crate::middleware::XrayMiddleware;
use crate::naming::SubsegmentNamer;

/// Sends a plain `reqwest` request with the same recording as [`XrayMiddleware`].
///
/// Like `send`, the returned future does its work when polled: the current entity is read at
/// the first poll, so the future records into the trace it runs in (to carry a trace into
/// `tokio::spawn`, wrap the future with
/// [`in_current_trace`](xray_core::TraceFutureExt::in_current_trace)).
///
/// ```
/// use xray_reqwest::{TracedRequestBuilderExt, XrayMiddleware};
///
/// # async fn run() -> reqwest::Result<()> {
/// let client = reqwest::Client::new();
/// let response = client.get("http://inventory.internal/items/7").send_traced().await?;
///
/// // With options, here a fixed subsegment name:
/// let inventory = XrayMiddleware::new().with_naming("inventory");
/// let response = client.get("http://10.0.0.7/items/7").send_traced_with(&inventory).await?;
/// # let _ = response; Ok(()) }
/// ```
pub trait TracedRequestBuilderExt: Sized {
    /// Builds and sends the request, recorded as a subsegment of the current entity when there
    /// is one, with the default options.
    fn send_traced(self) -> impl Future<Output = reqwest::Result<Response>> + Send {
        static DEFAULT: XrayMiddleware = XrayMiddleware::new();
        self.send_traced_with(&DEFAULT)
    }

    /// Builds and sends the request with the options of `options`.
    fn send_traced_with<N: SubsegmentNamer>(
        self,
        options: &XrayMiddleware<N>,
    ) -> impl Future<Output = reqwest::Result<Response>> + Send;
}

impl TracedRequestBuilderExt for RequestBuilder {
    fn send_traced_with<N: SubsegmentNamer>(
        self,
        options: &XrayMiddleware<N>,
    ) -> impl Future<Output = reqwest::Result<Response>> + Send {
        let (client, request) = self.build_split();
        async move {
            let mut request = request?;
            match call::start(&options.options(), &mut request) {
                None => client.execute(request).await,
                Some(call) => call.run(move || client.execute(request)).await,
            }
        }
    }
}
