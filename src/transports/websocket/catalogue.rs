//! The admin actions over WebSocket: `pool_*` and `flavor_*`. Zaqar validates them but has
//! no handler (a frame goes unanswered); Cairn answers them as the REST routes do, with the
//! bodies of the REST responses, and only with `--admin-mode`, like the routes.

use serde_json::{json, Map, Value};

use super::protocol::Rejection;
use super::request::{api, Frame, Refusal, Request};
use crate::actions as act;
use crate::model::catalogue::{name, pool_list};
use crate::model::{Pool, PoolPatch, QueueName};
use crate::transports::views;

/// Answers a frame when admin mode is off, as the REST routes are then absent.
fn admin_only(f: &Frame<'_>) -> Result<(), Refusal> {
    match f.admin {
        true => Ok(()),
        false => Err(Rejection::new(
            404,
            "Pools and flavors are served only in admin mode (--admin-mode).",
        )
        .into()),
    }
}

fn pool_name(f: &Frame<'_>) -> Result<QueueName, Refusal> {
    admin_only(f)?;
    Ok(name(f.field("pool_name")?, "Pool")?)
}

fn flavor_name(f: &Frame<'_>) -> Result<QueueName, Refusal> {
    admin_only(f)?;
    Ok(name(f.field("flavor_name")?, "Flavor")?)
}

/// The frame's body without the fields that name the resource: the REST body.
fn document(f: &Frame<'_>, naming: &[&str]) -> Value {
    let fields: Map<String, Value> = f
        .body
        .iter()
        .filter(|(k, _)| !naming.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(fields)
}

pub fn pool_list_action(f: &Frame<'_>) -> Result<Request, Refusal> {
    admin_only(f)?;
    let action = act::PoolList {
        marker: f.text("marker")?,
        limit: f.limits.catalogue_page(f.int("limit")?)?,
    };
    let detailed = f.flag("detailed")?;
    api(action, move |pools, _| {
        let items: Vec<Value> = pools
            .iter()
            .map(|(name, pool)| views::pool(name, pool, detailed))
            .collect();
        (200, json!({ "pools": items }))
    })
}

pub fn pool_create(f: &Frame<'_>) -> Result<Request, Refusal> {
    let name = pool_name(f)?;
    let pool = Pool::from_document(&document(f, &["pool_name"]))?;
    let text = json!(format!("Pool {name} created."));
    api(act::PoolPut { name, pool }, |(), _| (201, text))
}

pub fn pool_update(f: &Frame<'_>) -> Result<Request, Refusal> {
    let name = pool_name(f)?;
    let patch = PoolPatch::from_document(&document(f, &["pool_name"]))?;
    let shown = name.clone();
    api(act::PoolUpdate { name, patch }, move |pool, _| {
        (200, views::pool(shown.as_str(), &pool, false))
    })
}

pub fn pool_get(f: &Frame<'_>) -> Result<Request, Refusal> {
    let name = pool_name(f)?;
    let detailed = f.flag("detailed")?;
    let shown = name.clone();
    api(act::PoolGet { name }, move |pool, _| {
        (200, views::pool(shown.as_str(), &pool, detailed))
    })
}

pub fn pool_delete(f: &Frame<'_>) -> Result<Request, Refusal> {
    let name = pool_name(f)?;
    let text = json!(format!("Pool {name} removed."));
    api(act::PoolDelete { name }, |(), _| (204, text))
}

pub fn flavor_list(f: &Frame<'_>) -> Result<Request, Refusal> {
    admin_only(f)?;
    let action = act::FlavorList {
        marker: f.text("marker")?,
        limit: f.limits.catalogue_page(f.int("limit")?)?,
    };
    let detailed = f.flag("detailed")?;
    api(action, move |flavors, _| {
        let items: Vec<Value> = flavors
            .iter()
            .map(|flavor| views::flavor_listed(flavor, detailed))
            .collect();
        (200, json!({ "flavors": items }))
    })
}

/// A flavor's pools: `pool_list`, or one pool as `pool_name` (the field Zaqar's schema of
/// these actions names).
fn pools(f: &Frame<'_>, for_update: bool) -> Result<Vec<String>, Refusal> {
    let mut doc = document(f, &["flavor_name", "pool_name"]);
    if let (Some(pool), false) = (f.body.get("pool_name"), f.body.contains_key("pool_list")) {
        doc["pool_list"] = json!([pool]);
    }
    Ok(pool_list(&doc, for_update)?)
}

pub fn flavor_create(f: &Frame<'_>) -> Result<Request, Refusal> {
    let name = flavor_name(f)?;
    let pools = pools(f, false)?;
    let text = json!(format!("Flavor {name} created."));
    api(act::FlavorPut { name, pools }, |(), _| (201, text))
}

pub fn flavor_update(f: &Frame<'_>) -> Result<Request, Refusal> {
    let name = flavor_name(f)?;
    let pools = pools(f, true)?;
    api(act::FlavorUpdate { name, pools }, |flavor, _| {
        (200, views::flavor(&flavor))
    })
}

pub fn flavor_get(f: &Frame<'_>) -> Result<Request, Refusal> {
    let name = flavor_name(f)?;
    api(act::FlavorGet { name }, |flavor, _| {
        (200, views::flavor(&flavor))
    })
}

pub fn flavor_delete(f: &Frame<'_>) -> Result<Request, Refusal> {
    let name = flavor_name(f)?;
    let text = json!(format!("Flavor {name} removed."));
    api(act::FlavorDelete { name }, |(), _| (204, text))
}
