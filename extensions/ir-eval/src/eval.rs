//! A small evaluator of Morphir IR value expressions in morphir-elm's JSON (format versions 1
//! to 3): literals, variables, references to `Morphir.SDK` functions (`Basics`, `String`,
//! `List`), application, `if`, tuples, lists, records and field access.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// Bindings by canonical name (`total-amount`).
pub(crate) type Env = BTreeMap<String, Value>;

/// A Morphir name (`["total", "amount"]`) in canonical form.
pub(crate) fn canonical(name: &Value) -> Result<String, String> {
    let words = name
        .as_array()
        .ok_or_else(|| format!("a name is a list of words, found {name}"))?;
    words
        .iter()
        .map(|w| {
            w.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("bad word {w}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|w| w.join("-"))
}

fn tag(node: &Value) -> Option<String> {
    node.get(0)?
        .as_str()
        .map(|t| t.replace('_', "").to_ascii_lowercase())
}

fn arg(node: &Value, i: usize) -> Result<&Value, String> {
    node.get(i)
        .ok_or_else(|| format!("missing argument {i} in {node}"))
}

/// A function value: an SDK function with the arguments applied so far.
fn function(fq: &str, args: &[Value]) -> Value {
    json!({ "$function": fq, "$args": args })
}

/// Evaluates `expr` with `env`.
pub(crate) fn eval(expr: &Value, env: &Env) -> Result<Value, String> {
    let tag = tag(expr).ok_or_else(|| format!("not a value expression: {expr}"))?;
    match tag.as_str() {
        "literal" => literal(arg(expr, 2)?),
        "unit" => Ok(Value::Null),
        "variable" => {
            let name = canonical(arg(expr, 2)?)?;
            env.get(&name)
                .cloned()
                .ok_or_else(|| format!("unknown variable `{name}`"))
        }
        "reference" => {
            let fq = arg(expr, 2)?;
            let module = arg(fq, 1)?
                .as_array()
                .ok_or("bad module path")?
                .iter()
                .map(canonical)
                .collect::<Result<Vec<_>, _>>()?
                .join("/");
            let local = canonical(arg(fq, 2)?)?;
            let key = format!("{module}#{local}");
            if arity(&key).is_none() {
                return Err(format!("unsupported function `{key}`"));
            }
            Ok(function(&key, &[]))
        }
        "apply" => {
            let f = eval(arg(expr, 2)?, env)?;
            let x = eval(arg(expr, 3)?, env)?;
            apply(&f, x)
        }
        "ifthenelse" => match eval(arg(expr, 2)?, env)? {
            Value::Bool(true) => eval(arg(expr, 3)?, env),
            Value::Bool(false) => eval(arg(expr, 4)?, env),
            other => Err(format!("`if` needs a Bool, found {other}")),
        },
        "tuple" | "list" => arg(expr, 2)?
            .as_array()
            .ok_or("expected a list of values")?
            .iter()
            .map(|e| eval(e, env))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        "record" => {
            let mut out = Map::new();
            match arg(expr, 2)? {
                Value::Array(fields) => {
                    for field in fields {
                        out.insert(canonical(arg(field, 0)?)?, eval(arg(field, 1)?, env)?);
                    }
                }
                Value::Object(fields) => {
                    for (name, value) in fields {
                        out.insert(name.clone(), eval(value, env)?);
                    }
                }
                other => return Err(format!("bad record fields {other}")),
            }
            Ok(Value::Object(out))
        }
        "field" => {
            let record = eval(arg(expr, 2)?, env)?;
            let name = canonical(arg(expr, 3)?)?;
            record
                .get(&name)
                .cloned()
                .ok_or_else(|| format!("no field `{name}`"))
        }
        other => Err(format!("unsupported value expression `{other}`")),
    }
}

fn literal(lit: &Value) -> Result<Value, String> {
    let kind = tag(lit).ok_or_else(|| format!("not a literal: {lit}"))?;
    let v = arg(lit, 1)?.clone();
    match kind.as_str() {
        "boolliteral" | "stringliteral" | "charliteral" | "wholenumberliteral" | "intliteral"
        | "floatliteral" => Ok(v),
        "decimalliteral" => v
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .map(Value::from)
            .ok_or_else(|| format!("bad decimal {v}")),
        other => Err(format!("unsupported literal `{other}`")),
    }
}

fn arity(fq: &str) -> Option<usize> {
    Some(match fq {
        "basics#negate" | "basics#abs" | "basics#not" | "string#length" | "string#to-upper"
        | "string#to-lower" | "string#concat" | "list#sum" | "list#length" => 1,
        "basics#add"
        | "basics#subtract"
        | "basics#multiply"
        | "basics#divide"
        | "basics#integer-divide"
        | "basics#mod-by"
        | "basics#equal"
        | "basics#not-equal"
        | "basics#less-than"
        | "basics#greater-than"
        | "basics#less-than-or-equal"
        | "basics#greater-than-or-equal"
        | "basics#and"
        | "basics#or"
        | "basics#append"
        | "basics#max"
        | "basics#min" => 2,
        _ => return None,
    })
}

fn apply(f: &Value, x: Value) -> Result<Value, String> {
    let fq = f["$function"]
        .as_str()
        .ok_or_else(|| format!("cannot apply a non-function {f}"))?;
    let mut args = f["$args"].as_array().cloned().unwrap_or_default();
    args.push(x);
    if args.len() < arity(fq).unwrap_or(0) {
        return Ok(function(fq, &args));
    }
    call(fq, &args)
}

fn num(v: &Value) -> Result<f64, String> {
    v.as_f64()
        .ok_or_else(|| format!("expected a number, found {v}"))
}

/// Integer arithmetic when both are integers, float otherwise.
fn arith(
    a: &Value,
    b: &Value,
    int: fn(i64, i64) -> Option<i64>,
    float: fn(f64, f64) -> f64,
) -> Result<Value, String> {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => int(x, y)
            .map(Value::from)
            .ok_or_else(|| "integer overflow or division by zero".to_owned()),
        _ => Ok(Value::from(float(num(a)?, num(b)?))),
    }
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => num(a)?
            .partial_cmp(&num(b)?)
            .ok_or_else(|| "cannot compare NaN".to_owned()),
    }
}

fn text(v: &Value) -> Result<&str, String> {
    v.as_str()
        .ok_or_else(|| format!("expected a String, found {v}"))
}

fn list(v: &Value) -> Result<&Vec<Value>, String> {
    v.as_array()
        .ok_or_else(|| format!("expected a List, found {v}"))
}

fn call(fq: &str, a: &[Value]) -> Result<Value, String> {
    use std::cmp::Ordering::{Greater, Less};
    let bool_of = |v: &Value| {
        v.as_bool()
            .ok_or_else(|| format!("expected a Bool, found {v}"))
    };
    Ok(match fq {
        "basics#add" => arith(&a[0], &a[1], i64::checked_add, |x, y| x + y)?,
        "basics#subtract" => arith(&a[0], &a[1], i64::checked_sub, |x, y| x - y)?,
        "basics#multiply" => arith(&a[0], &a[1], i64::checked_mul, |x, y| x * y)?,
        "basics#divide" => Value::from(num(&a[0])? / num(&a[1])?),
        "basics#integer-divide" => arith(&a[0], &a[1], i64::checked_div, |x, y| (x / y).trunc())?,
        "basics#mod-by" => arith(&a[1], &a[0], i64::checked_rem_euclid, f64::rem_euclid)?,
        "basics#negate" => arith(&Value::from(0), &a[0], i64::checked_sub, |x, y| x - y)?,
        "basics#abs" => match a[0].as_i64() {
            Some(i) => Value::from(i.checked_abs().ok_or("integer overflow")?),
            None => Value::from(num(&a[0])?.abs()),
        },
        "basics#equal" => Value::Bool(a[0] == a[1]),
        "basics#not-equal" => Value::Bool(a[0] != a[1]),
        "basics#less-than" => Value::Bool(compare(&a[0], &a[1])? == Less),
        "basics#greater-than" => Value::Bool(compare(&a[0], &a[1])? == Greater),
        "basics#less-than-or-equal" => Value::Bool(compare(&a[0], &a[1])? != Greater),
        "basics#greater-than-or-equal" => Value::Bool(compare(&a[0], &a[1])? != Less),
        "basics#max" => {
            if compare(&a[0], &a[1])? == Less {
                a[1].clone()
            } else {
                a[0].clone()
            }
        }
        "basics#min" => {
            if compare(&a[0], &a[1])? == Greater {
                a[1].clone()
            } else {
                a[0].clone()
            }
        }
        "basics#and" => Value::Bool(bool_of(&a[0])? && bool_of(&a[1])?),
        "basics#or" => Value::Bool(bool_of(&a[0])? || bool_of(&a[1])?),
        "basics#not" => Value::Bool(!bool_of(&a[0])?),
        "basics#append" => match (&a[0], &a[1]) {
            (Value::String(x), Value::String(y)) => Value::String(format!("{x}{y}")),
            (Value::Array(x), Value::Array(y)) => {
                Value::Array(x.iter().chain(y).cloned().collect())
            }
            _ => return Err("append needs two Strings or two Lists".to_owned()),
        },
        "string#length" => Value::from(text(&a[0])?.chars().count()),
        "string#to-upper" => Value::from(text(&a[0])?.to_uppercase()),
        "string#to-lower" => Value::from(text(&a[0])?.to_lowercase()),
        "string#concat" => Value::from(
            list(&a[0])?
                .iter()
                .map(text)
                .collect::<Result<String, _>>()?,
        ),
        "list#length" => Value::from(list(&a[0])?.len()),
        "list#sum" => list(&a[0])?.iter().try_fold(Value::from(0), |acc, x| {
            arith(&acc, x, i64::checked_add, |p, q| p + q)
        })?,
        other => return Err(format!("unsupported function `{other}`")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk(module: &str, local: &[&str]) -> Value {
        json!([
            "Reference",
            {},
            [[["morphir"], ["s", "d", "k"]], [[module]], local]
        ])
    }

    fn int(n: i64) -> Value {
        json!(["Literal", {}, ["WholeNumberLiteral", n]])
    }

    fn apply2(f: &Value, a: &Value, b: &Value) -> Value {
        json!(["Apply", {}, ["Apply", {}, f, a], b])
    }

    #[test]
    fn arithmetic_and_variables() {
        let mut env = Env::new();
        env.insert("price".into(), json!(7));
        let expr = apply2(
            &sdk("basics", &["add"]),
            &int(1),
            &json!(["Variable", {}, ["price"]]),
        );
        assert_eq!(eval(&expr, &env).unwrap(), json!(8));
        let cond = json!([
            "IfThenElse",
            {},
            apply2(&sdk("basics", &["less", "than"]), &int(1), &int(2)),
            ["Literal", {}, ["StringLiteral", "yes"]],
            ["Literal", {}, ["StringLiteral", "no"]]
        ]);
        assert_eq!(eval(&cond, &env).unwrap(), json!("yes"));
        let sum = json!([
            "Apply",
            {},
            sdk("list", &["sum"]),
            ["List", {}, [int(1), int(2), int(3)]]
        ]);
        assert_eq!(eval(&sum, &env).unwrap(), json!(6));
        let rec = json!([
            "Field",
            {},
            ["Record", {}, [[["total"], int(3)]]],
            ["total"]
        ]);
        assert_eq!(eval(&rec, &env).unwrap(), json!(3));
    }

    #[test]
    fn errors_name_the_problem() {
        let env = Env::new();
        assert_eq!(
            eval(&json!(["Variable", {}, ["x"]]), &env).unwrap_err(),
            "unknown variable `x`"
        );
        assert!(
            eval(&sdk("basics", &["launch"]), &env)
                .unwrap_err()
                .contains("basics#launch")
        );
        let div = apply2(&sdk("basics", &["integer", "divide"]), &int(1), &int(0));
        assert!(eval(&div, &env).unwrap_err().contains("division by zero"));
    }
}
