//! The admin API's routes (reference §8), mounted with `--admin-mode` only: pools
//! (`/v2/pools…`) and flavors (`/v2/flavors…`).

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::extract::{On, Payload};
use super::query::Query;
use super::{no_content, render, Seq};
use crate::actions::{
    decode, execute, FlavorDelete, FlavorGet, FlavorList, FlavorPut, FlavorUpdate, PoolDelete,
    PoolGet, PoolList, PoolPut, PoolUpdate,
};
use crate::error::ApiError;
use crate::model::catalogue::{name, pool_list};
use crate::model::{Pool, PoolPatch};
use crate::state::Core;
use crate::transports::views;

/// The routes of pools and flavors.
pub fn routes() -> Router<Core> {
    Router::new()
        .route("/v2/pools", get(list_pools))
        .route(
            "/v2/pools/{pool}",
            get(get_pool)
                .put(put_pool)
                .patch(update_pool)
                .delete(delete_pool),
        )
        .route("/v2/flavors", get(list_flavors))
        .route(
            "/v2/flavors/{flavor}",
            get(get_flavor)
                .put(put_flavor)
                .patch(update_flavor)
                .delete(delete_flavor),
        )
}

/// The query parameters a listing's `next` link carries besides its marker.
fn next_params(q: &Query, names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .filter_map(|k| q.get(k).map(|v| ((*k).to_owned(), v.to_owned())))
        .collect()
}

async fn list_pools(On(app, ctx): On, uri: Uri, q: Query) -> Result<Response, ApiError> {
    let detailed = q.bool("detailed")?.unwrap_or(false);
    let action = PoolList {
        marker: q.get("marker").map(str::to_owned),
        limit: app.limits.catalogue_page(q.int("limit")?)?,
    };
    let pools = execute(&app, &ctx, action).await?.reply;
    let items: Vec<_> = pools
        .iter()
        .map(|(name, pool)| views::pool(name, pool, detailed))
        .collect();
    let last = pools.last().map_or("", |(name, _)| name.as_str());
    let params = next_params(&q, &["limit", "detailed"]);
    let doc = json!({
        "pools": items,
        "links": render::links(!pools.is_empty(), "/v2/pools", &params, last),
    });
    let mut response = render::json(StatusCode::OK, &doc);
    if let Ok(value) = HeaderValue::from_str(&uri.to_string()) {
        response
            .headers_mut()
            .insert(header::CONTENT_LOCATION, value);
    }
    Ok(response)
}

async fn get_pool(
    On(app, ctx): On,
    Path(raw): Path<String>,
    q: Query,
) -> Result<Response, ApiError> {
    let detailed = q.bool("detailed")?.unwrap_or(false);
    let name = name(&raw, "Pool")?;
    let pool = execute(&app, &ctx, PoolGet { name: name.clone() })
        .await?
        .reply;
    Ok(render::json(
        StatusCode::OK,
        &views::pool(name.as_str(), &pool, detailed),
    ))
}

async fn put_pool(
    On(app, ctx): On,
    Path(raw): Path<String>,
    Payload(body): Payload,
) -> Result<(Seq, Response), ApiError> {
    let name = name(&raw, "Pool")?;
    let pool = Pool::from_document(&decode::parse_json(&body)?)?;
    let location = format!("/v2/pools/{name}");
    let answer = execute(&app, &ctx, PoolPut { name, pool }).await?;
    let response = render::empty(StatusCode::CREATED, Some(&location));
    Ok((Seq(answer.seq), response))
}

async fn update_pool(
    On(app, ctx): On,
    Path(raw): Path<String>,
    Payload(body): Payload,
) -> Result<(Seq, Response), ApiError> {
    let name = name(&raw, "Pool")?;
    let patch = PoolPatch::from_document(&decode::parse_json(&body)?)?;
    let action = PoolUpdate {
        name: name.clone(),
        patch,
    };
    let answer = execute(&app, &ctx, action).await?;
    let body = views::pool(name.as_str(), &answer.reply, false);
    Ok((Seq(answer.seq), render::json(StatusCode::OK, &body)))
}

async fn delete_pool(
    On(app, ctx): On,
    Path(raw): Path<String>,
) -> Result<(Seq, Response), ApiError> {
    let name = name(&raw, "Pool")?;
    no_content(&app, &ctx, PoolDelete { name }, None).await
}

async fn list_flavors(On(app, ctx): On, q: Query) -> Result<Response, ApiError> {
    let detailed = q.bool("detailed")?.unwrap_or(false);
    let action = FlavorList {
        marker: q.get("marker").map(str::to_owned),
        limit: app.limits.catalogue_page(q.int("limit")?)?,
    };
    let flavors = execute(&app, &ctx, action).await?.reply;
    let items: Vec<_> = flavors
        .iter()
        .map(|f| views::flavor_listed(f, detailed))
        .collect();
    let last = flavors.last().map_or("", |f| f.name.as_str());
    let params = next_params(&q, &["limit", "detailed"]);
    let doc = json!({
        "flavors": items,
        "links": render::links(!flavors.is_empty(), "/v2/flavors", &params, last),
    });
    Ok(render::json(StatusCode::OK, &doc))
}

async fn get_flavor(On(app, ctx): On, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let name = name(&raw, "Flavor")?;
    let flavor = execute(&app, &ctx, FlavorGet { name }).await?.reply;
    Ok(render::json(StatusCode::OK, &views::flavor(&flavor)))
}

async fn put_flavor(
    On(app, ctx): On,
    Path(raw): Path<String>,
    Payload(body): Payload,
) -> Result<(Seq, Response), ApiError> {
    let name = name(&raw, "Flavor")?;
    let pools = pool_list(&decode::parse_json(&body)?, false)?;
    let location = format!("/v2/flavors/{name}");
    let answer = execute(&app, &ctx, FlavorPut { name, pools }).await?;
    let response = render::empty(StatusCode::CREATED, Some(&location));
    Ok((Seq(answer.seq), response))
}

async fn update_flavor(
    On(app, ctx): On,
    Path(raw): Path<String>,
    Payload(body): Payload,
) -> Result<(Seq, Response), ApiError> {
    let name = name(&raw, "Flavor")?;
    let pools = pool_list(&decode::parse_json(&body)?, true)?;
    let answer = execute(&app, &ctx, FlavorUpdate { name, pools }).await?;
    let body = views::flavor(&answer.reply);
    Ok((Seq(answer.seq), render::json(StatusCode::OK, &body)))
}

async fn delete_flavor(
    On(app, ctx): On,
    Path(raw): Path<String>,
) -> Result<(Seq, Response), ApiError> {
    let name = name(&raw, "Flavor")?;
    no_content(&app, &ctx, FlavorDelete { name }, None).await
}
