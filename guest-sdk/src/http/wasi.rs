//! `wasi:http/outgoing-handler` transport (wasm32-wasip2).

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme, http_error_code,
};
use wasip2::io::streams::StreamError;

use super::{HttpError, Request, Response, Target};

/// Largest chunk read or written in one call.
const CHUNK: u64 = 64 * 1024;

pub(super) fn send(request: &Request, target: &Target) -> Result<Response, HttpError> {
    // The host puts `host` first, then these fields in this order (see `wire_fields`).
    let entries: Vec<(String, Vec<u8>)> = super::wire_fields(request)?
        .into_iter()
        .map(|(name, value)| (name, value.into_bytes()))
        .collect();
    let headers =
        Fields::from_list(&entries).map_err(|e| HttpError::InvalidHeader(format!("{e:?}")))?;
    let outgoing = OutgoingRequest::new(headers);
    let method = match request.method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_owned()),
    };
    let bad = |what: &str| HttpError::InvalidUrl(what.to_owned());
    outgoing.set_method(&method).map_err(|()| bad("method"))?;
    let scheme = if target.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| bad("scheme"))?;
    outgoing
        .set_authority(Some(&target.authority))
        .map_err(|()| bad("host"))?;
    outgoing
        .set_path_with_query(Some(&target.path_and_query))
        .map_err(|()| bad("path"))?;
    // A request without a length has no body at all: an opened body stream would make hyper
    // frame it as chunked (it does for every method but GET and HEAD).
    let body = match super::content_length(request) {
        Some(_) => Some(
            outgoing
                .body()
                .map_err(|()| HttpError::Transport("no request body".into()))?,
        ),
        None => None,
    };
    let future = outgoing_handler::handle(outgoing, None).map_err(map_code)?;
    let sent = match body {
        Some(body) => write_body(body, &request.body),
        None => Ok(()),
    };

    future.subscribe().block();
    let outcome = future.get();
    if let Err(body_error) = sent {
        // When the host refuses the request (its egress policy) the body stream just closes;
        // the request's own outcome says why.
        return Err(match outcome {
            Some(Ok(Err(code))) => map_code(code),
            _ => body_error,
        });
    }
    let incoming = match outcome {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(map_code(code)),
        Some(Err(())) | None => return Err(HttpError::Transport("no response".into())),
    };
    let status = incoming.status();
    let headers = incoming
        .headers()
        .entries()
        .into_iter()
        .map(|(n, v)| {
            (
                n.to_ascii_lowercase(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect();
    let body_resource = incoming
        .consume()
        .map_err(|()| HttpError::Transport("response body".into()))?;
    let mut body = Vec::new();
    {
        let stream = body_resource
            .stream()
            .map_err(|()| HttpError::Transport("response body stream".into()))?;
        loop {
            match stream.blocking_read(CHUNK) {
                Ok(bytes) => body.extend_from_slice(&bytes),
                Err(StreamError::Closed) => break,
                Err(e) => return Err(map_stream(e)),
            }
        }
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Writes the request body and finishes it; on failure the body is dropped unfinished, which
/// ends the request.
fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), HttpError> {
    {
        let stream = body
            .write()
            .map_err(|()| HttpError::Transport("request body stream".into()))?;
        for chunk in bytes.chunks(4096) {
            stream.blocking_write_and_flush(chunk).map_err(map_stream)?;
        }
    }
    OutgoingBody::finish(body, None).map_err(map_code)
}

fn map_stream(err: StreamError) -> HttpError {
    match err {
        StreamError::Closed => HttpError::Transport("stream closed".into()),
        StreamError::LastOperationFailed(e) => match http_error_code(&e) {
            Some(code) => map_code(code),
            // wasmtime-wasi-http 48 stores body errors as its own error type, which
            // `http-error-code` cannot see; its message is all there is.
            None => {
                let text = e.to_debug_string();
                if text.contains("response body size exceeds limit") {
                    HttpError::BodyTooLarge
                } else {
                    HttpError::Transport(text)
                }
            }
        },
    }
}

fn map_code(code: ErrorCode) -> HttpError {
    match code {
        ErrorCode::HttpRequestDenied => HttpError::Denied("destination not allowed".into()),
        ErrorCode::DestinationIpProhibited => HttpError::Denied("address not allowed".into()),
        ErrorCode::ConnectionLimitReached => HttpError::Denied("request limit reached".into()),
        ErrorCode::HttpResponseBodySize(_) => HttpError::BodyTooLarge,
        ErrorCode::ConnectionTimeout | ErrorCode::HttpResponseTimeout => HttpError::Timeout,
        ErrorCode::ConnectionReadTimeout | ErrorCode::ConnectionWriteTimeout => HttpError::Timeout,
        ErrorCode::HttpRequestUriInvalid => HttpError::InvalidUrl("refused by the host".into()),
        other => HttpError::Transport(format!("{other:?}")),
    }
}
