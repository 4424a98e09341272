//! Evaluates expressions against an environment of named values.

use std::collections::HashMap;

use crate::parser::{BinaryOp, Expr};

#[derive(Debug, Default)]
pub struct Environment {
    values: HashMap<String, f64>,
}

#[derive(Debug, PartialEq)]
pub enum EvalError {
    UnknownVariable(String),
    DivisionByZero,
}

impl Environment {
    pub fn new() -> Environment {
        let mut values = HashMap::new();
        values.insert("pi".to_string(), std::f64::consts::PI);
        values.insert("e".to_string(), std::f64::consts::E);
        Environment { values }
    }

    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied()
    }

    pub fn evaluate(&mut self, expr: &Expr) -> Result<f64, EvalError> {
        match expr {
            Expr::Number(value) => Ok(*value),
            Expr::Variable(name) => self.get(name).ok_or_else(|| EvalError::UnknownVariable(name.clone())),
            Expr::Negate(inner) => Ok(-self.evaluate(inner)?),
            Expr::Binary { op, left, right } => {
                let left = self.evaluate(left)?;
                let right = self.evaluate(right)?;
                apply(*op, left, right)
            }
            Expr::Assign { name, value } => {
                let value = self.evaluate(value)?;
                self.values.insert(name.clone(), value);
                Ok(value)
            }
        }
    }
}

fn apply(op: BinaryOp, left: f64, right: f64) -> Result<f64, EvalError> {
    match op {
        BinaryOp::Add => Ok(left + right),
        BinaryOp::Subtract => Ok(left - right),
        BinaryOp::Multiply => Ok(left * right),
        BinaryOp::Divide => {
            
        }
        BinaryOp::Power => Ok(left.powf(right)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_are_remembered() {
        let mut env = Environment::new();
        let assign = Expr::Assign { name: "x".into(), value: Box::new(Expr::Number(2.0)) };
        assert_eq!(env.evaluate(&assign), Ok(2.0));
        assert_eq!(env.get("x"), Some(2.0));
    }
}
