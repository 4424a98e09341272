//! A precedence-climbing parser from tokens to expressions.

use crate::lexer::Token;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Variable(String),
    Negate(Box<Expr>),
    Binary { op: BinaryOp, left: Box<Expr>, right: Box<Expr> },
    Assign { name: String, value: Box<Expr> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Subtract,
    Multiply,
    Divide,
    Power,
}

impl BinaryOp {
    fn from_token(token: &Token) -> Option<BinaryOp> {
        match token {
            Token::Plus => Some(BinaryOp::Add),
            Token::Minus => Some(BinaryOp::Subtract),
            Token::Star => Some(BinaryOp::Multiply),
            Token::Slash => Some(BinaryOp::Divide),
            Token::Caret => Some(BinaryOp::Power),
            _ => None,
        }
    }

    fn precedence(self) -> u8 {
        match self {
            BinaryOp::Add | BinaryOp::Subtract => 1,
            BinaryOp::Multiply | BinaryOp::Divide => 2,
            BinaryOp::Power => 3,
        }
    }

    fn is_right_associative(self) -> bool {
        self == BinaryOp::Power
    }
}

pub struct Parser {
    tokens: Vec<Token>,
    position: usize,
}

impl Parser {
    pub fn new(tokens: Vec<Token>) -> Parser {
        Parser { tokens, position: 0 }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.position).cloned();
        self.position += 1;
        token
    }

    pub fn parse_statement(&mut self) -> Result<Expr, String> {
        if let (Some(Token::Name(name)), Some(Token::Equals)) = (self.tokens.first(), self.tokens.get(1)) {
            let name = name.clone();
            self.position = 2;
            let value = self.parse_expression(0)?;
            return Ok(Expr::Assign { name, value: Box::new(value) });
        }
        self.parse_expression(0)
    }

    fn parse_expression(&mut self, min_precedence: u8) -> Result<Expr, String> {
        let mut left = self.parse_atom()?;
        while let Some(op) = self.peek().and_then(BinaryOp::from_token) {
            if op.precedence() < min_precedence {
                break;
            }
            self.next();
            let next_min = if op.is_right_associative() { op.precedence() } else { op.precedence() + 1 };
            let right = self.parse_expression(next_min)?;
            left = Expr::Binary { op, left: Box::new(left), right: Box::new(right) };
        }
        Ok(left)
    }

    fn parse_atom(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Number(value)) => Ok(Expr::Number(value)),
            Some(Token::Name(name)) => Ok(Expr::Variable(name)),
            Some(Token::Minus) => Ok(Expr::Negate(Box::new(self.parse_atom()?))),
            Some(Token::LParen) => {
                
            }
            other => Err(format!("expected a number, a name or '(', found {other:?}")),
        }
    }
}
