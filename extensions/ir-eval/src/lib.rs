//! `ir-eval`: evaluates Morphir IR value expressions (morphir-elm JSON) — an example runtime
//! extension that also builds as a design-time transform, from one crate (see `Cargo.toml`).
//!
//! **Runtime (TEA)**, with `morphir run ir-eval`: each stdin line is a message.
//!
//! | message | what happens |
//! |---|---|
//! | `{"let": "totalAmount", "value": EXPR}` | evaluates and binds it under the Morphir name (`total-amount`, via the host's `ir_helpers`); emits `{"let", "value"}` |
//! | `{"eval": EXPR}` | emits `{"value": V}` (or `{"error": "..."}`) |
//! | `{"eval": EXPR, "after": MS}` | the same, `MS` milliseconds later (a `delay` command) |
//! | `{"fetch": URL}` | GETs an expression over HTTP (an `http` command; the host must be in `allowed_hosts`) and emits its value |
//! | `{"every": MS, "times": N}` | emits `{"tick": K, "evaluated": N}` every `MS` ms, `N` times (a timer subscription) |
//! | `{"watch": PATH}` | emits `{"changed": [paths]}` when files under `PATH` change (a file-watch subscription) |
//! | `{"stats": true}` | emits `{"bindings", "evaluated"}` |
//! | `{"stop": true}` | stops the program |
//!
//! The flags may hold initial bindings: `{"bindings": {"rate": EXPR}}`.
//!
//! **Design time**, as a transform: `{"values": {"name": EXPR, ...}}` in, the same document with
//! every expression replaced by its value out (names bound in order, so later expressions can use
//! earlier ones).

mod eval;

use morphir_ext_sdk::{ErrorPayload, export};
use serde_json::{Map, Value};

use eval::Env;

fn bad(e: impl std::fmt::Display) -> ErrorPayload {
    ErrorPayload::new(e.to_string()).with_code("invalid-input")
}

/// Evaluates every entry of `values` in order, binding each under its name.
fn eval_all(
    values: &Map<String, Value>,
    env: &mut Env,
) -> Result<Map<String, Value>, ErrorPayload> {
    let mut out = Map::new();
    for (name, expr) in values {
        let value =
            eval::eval(expr, env).map_err(|e| bad(e).with_path(format!("$.values.{name}")))?;
        env.insert(morphir_name(name)?, value.clone());
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// The canonical Morphir name of an identifier, from the host's IR helpers.
fn morphir_name(identifier: &str) -> Result<String, ErrorPayload> {
    Ok(morphir_ext_sdk::ir::name(identifier)?.canonical)
}

struct IrEval;

#[cfg(feature = "design-time")]
impl morphir_ext_sdk::Transform for IrEval {
    fn transform(
        request: morphir_ext_sdk::StepRequest,
    ) -> Result<morphir_ext_sdk::Envelope, ErrorPayload> {
        let mut doc: Value = request.input.as_json().map_err(bad)?;
        let values = doc
            .get("values")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("no `values` object").with_path("$.values"))?
            .clone();
        let results = eval_all(&values, &mut Env::new())?;
        doc["values"] = Value::Object(results);
        morphir_ext_sdk::log::info(&format!("evaluated {} expressions", values.len()));
        morphir_ext_sdk::Envelope::json(&doc).map_err(bad)
    }
}

#[cfg(feature = "runtime")]
mod program {
    use morphir_ext_sdk::http::{HttpRequest, HttpResponse};
    use morphir_ext_sdk::tea::{Cmd, Sub};
    use morphir_ext_sdk::{Envelope, ErrorPayload, Program};
    use serde::{Deserialize, Serialize};
    use serde_json::{Value, json};

    use super::{Env, IrEval, bad, eval, eval_all, morphir_name};

    /// The program's state, kept by the host between messages.
    #[derive(Debug, Default, Serialize, Deserialize)]
    pub(crate) struct Model {
        bindings: Env,
        evaluated: u64,
        /// A running `every`: its period and how many ticks are left.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timer: Option<(u64, u64)>,
        #[serde(default)]
        ticks: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        watching: Option<String>,
    }

    impl Model {
        fn eval(&mut self, expr: &Value) -> Value {
            match eval::eval(expr, &self.bindings) {
                Ok(value) => {
                    self.evaluated += 1;
                    json!({ "value": value })
                }
                Err(e) => json!({ "error": e }),
            }
        }
    }

    impl Program for IrEval {
        type Model = Model;

        fn init(flags: Envelope) -> Result<(Model, Vec<Cmd>), ErrorPayload> {
            let mut model = Model::default();
            let flags: Value = if flags.content.is_empty() {
                json!({})
            } else {
                flags.as_json().map_err(bad)?
            };
            if let Some(bindings) = flags.get("bindings").and_then(Value::as_object) {
                eval_all(bindings, &mut model.bindings)?;
            }
            Ok((model, Vec::new()))
        }

        fn update(msg: Envelope, mut model: Model) -> Result<(Model, Vec<Cmd>), ErrorPayload> {
            let body: Value = msg.as_json().map_err(bad)?;
            let cmds = match msg.header.kind.as_deref() {
                // Messages the program asked for.
                Some("eval") => vec![Cmd::emit_json(model.eval(&body["eval"]))],
                Some("fetched") => {
                    let response: HttpResponse = match serde_json::from_value(body.clone()) {
                        Ok(r) => r,
                        Err(_) => {
                            return Ok((
                                model,
                                vec![Cmd::emit_json(json!({"error": body["error"]}))],
                            ));
                        }
                    };
                    let answer = match serde_json::from_str::<Value>(&response.text()) {
                        Ok(expr) => model.eval(&expr),
                        Err(e) => {
                            json!({ "error": format!("status {}: not an expression: {e}", response.status) })
                        }
                    };
                    vec![Cmd::emit_json(answer)]
                }
                Some("tick") => {
                    model.ticks += 1;
                    if let Some((ms, left)) = model.timer {
                        model.timer = (left > 1).then_some((ms, left - 1));
                    }
                    vec![Cmd::emit_json(
                        json!({"tick": model.ticks, "evaluated": model.evaluated}),
                    )]
                }
                Some("changed") => vec![Cmd::emit_json(json!({"changed": body["paths"]}))],
                // Messages from outside.
                _ => from_outside(&mut model, &body)?,
            };
            Ok((model, cmds))
        }

        fn subscriptions(model: &Model) -> Vec<Sub> {
            let mut subs = Vec::new();
            if let Some((ms, _)) = model.timer {
                subs.push(Sub::every(ms, "tick"));
            }
            if let Some(path) = &model.watching {
                subs.push(Sub::watch(path.clone(), "changed"));
            }
            subs
        }
    }

    fn from_outside(model: &mut Model, body: &Value) -> Result<Vec<Cmd>, ErrorPayload> {
        if let Some(name) = body.get("let").and_then(Value::as_str) {
            let name = morphir_name(name)?;
            return Ok(vec![match eval::eval(&body["value"], &model.bindings) {
                Ok(value) => {
                    model.evaluated += 1;
                    model.bindings.insert(name.clone(), value.clone());
                    Cmd::emit_json(json!({"let": name, "value": value}))
                }
                Err(e) => Cmd::emit_json(json!({"error": e})),
            }]);
        }
        if let Some(expr) = body.get("eval") {
            return Ok(vec![match body.get("after").and_then(Value::as_u64) {
                Some(ms) => Cmd::delay(ms, "eval", json!({"eval": expr})),
                None => Cmd::emit_json(model.eval(expr)),
            }]);
        }
        if let Some(url) = body.get("fetch").and_then(Value::as_str) {
            return Ok(vec![Cmd::http("fetched", HttpRequest::get(url))]);
        }
        if let Some(ms) = body.get("every").and_then(Value::as_u64) {
            let times = body.get("times").and_then(Value::as_u64).unwrap_or(1);
            model.timer = (times > 0).then_some((ms, times));
            return Ok(Vec::new());
        }
        if let Some(path) = body.get("watch").and_then(Value::as_str) {
            model.watching = Some(path.to_owned());
            return Ok(vec![Cmd::log("info", format!("watching {path}"))]);
        }
        if body.get("stats").is_some() {
            return Ok(vec![Cmd::emit_json(json!({
                "bindings": model.bindings.len(),
                "evaluated": model.evaluated,
            }))]);
        }
        if body.get("stop").is_some() {
            return Ok(vec![Cmd::Stop]);
        }
        Err(bad(format!(
            "unknown message {body}; send let, eval, fetch, every, watch, stats or stop"
        )))
    }
}

#[cfg(all(feature = "design-time", feature = "runtime"))]
export! {
    name: "ir-eval",
    description: "Evaluates Morphir IR value expressions: a transform, and a runtime program fed expressions as messages.",
    accepts: ["application/json"],
    produces: ["application/json"],
    transform: IrEval,
    program: IrEval,
}

#[cfg(all(feature = "design-time", not(feature = "runtime")))]
export! {
    name: "ir-eval",
    description: "Evaluates Morphir IR value expressions (design-time transform).",
    accepts: ["application/json"],
    produces: ["application/json"],
    transform: IrEval,
}

#[cfg(all(feature = "runtime", not(feature = "design-time")))]
export! {
    name: "ir-eval",
    description: "Evaluates Morphir IR value expressions fed as messages (runtime program).",
    program: IrEval,
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_is_its_words_joined() {
        let name = serde_json::json!(["total", "amount"]);
        assert_eq!(super::eval::canonical(&name).unwrap(), "total-amount");
    }
}
