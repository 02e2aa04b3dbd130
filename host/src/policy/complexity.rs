//! What a module may cost to compile: bounds on its shape, checked before the compiler sees it.
//!
//! Cranelift's time and memory grow with the code it is given, and a small file can describe a
//! great deal of code (30,000 empty functions with 50,000 locals each is 240 KB and took 52 s to
//! compile). The scan below reads every core module a file holds (a component's nested ones
//! included) with `wasmparser` and refuses, with the bound it broke, a module whose function
//! count, locals, function body size or block nesting exceed the limits in
//! [`crate::limits`]. Those limits leave room for the largest real plugins (the JavaScript and
//! Python components, whose interpreters are compiled in) many times over, and the scan is
//! deterministic: a module refused once is refused the same way on every node, every time.

use wasmparser::{Parser, Payload};

use crate::limits::{
    MAX_COMPILE_BLOCK_NESTING, MAX_COMPILE_FUNCTION_BODY_BYTES, MAX_COMPILE_FUNCTIONS,
    MAX_COMPILE_LOCALS_PER_FUNCTION, MAX_COMPILE_TOTAL_LOCALS,
};

/// The shape of the code a module gives the compiler, summed over every core module in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CodeShape {
    /// Function bodies.
    pub functions: u64,
    /// Locals declared, in all bodies together.
    pub total_locals: u64,
    /// Most locals one body declares.
    pub max_locals: u64,
    /// Largest body, in bytes.
    pub max_body_bytes: u64,
    /// Deepest nesting of `block`, `loop`, `if` and `try_table` in one body.
    pub max_nesting: u64,
}

/// Why a module is refused before compiling.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ComplexityError {
    /// The module could not be read far enough to measure it (the compiler would refuse it too).
    #[error("module is not valid WebAssembly: {0}")]
    Invalid(String),
    /// A bound was broken.
    #[error(
        "module is too costly to compile: {what} is {value}, over the limit of {limit} (no real \
         plugin comes near it; this shape only makes the compiler spend time and memory)"
    )]
    TooCostly {
        /// Which measure.
        what: &'static str,
        /// Its value in this module.
        value: u64,
        /// The limit.
        limit: u64,
    },
}

/// Measures `bytes` (a core module or a component) and checks every bound.
pub fn check(bytes: &[u8]) -> Result<CodeShape, ComplexityError> {
    let shape = measure(bytes)?;
    shape.within_bounds()?;
    Ok(shape)
}

impl CodeShape {
    /// Whether this shape is within every bound; the first one broken otherwise.
    pub fn within_bounds(&self) -> Result<(), ComplexityError> {
        let bounds = [
            (
                "the number of functions",
                self.functions,
                MAX_COMPILE_FUNCTIONS,
            ),
            (
                "the number of locals in all functions",
                self.total_locals,
                MAX_COMPILE_TOTAL_LOCALS,
            ),
            (
                "the number of locals in one function",
                self.max_locals,
                MAX_COMPILE_LOCALS_PER_FUNCTION,
            ),
            (
                "the size of one function body",
                self.max_body_bytes,
                MAX_COMPILE_FUNCTION_BODY_BYTES,
            ),
            (
                "the block nesting depth in one function",
                self.max_nesting,
                MAX_COMPILE_BLOCK_NESTING,
            ),
        ];
        match bounds.into_iter().find(|(_, value, limit)| value > limit) {
            Some((what, value, limit)) => Err(ComplexityError::TooCostly { what, value, limit }),
            None => Ok(()),
        }
    }
}

/// The shape of `bytes`. Reading it costs time linear in the file's size (itself bounded by
/// [`crate::limits::MAX_MODULE_BYTES`]), a small part of what compiling it would.
pub fn measure(bytes: &[u8]) -> Result<CodeShape, ComplexityError> {
    let invalid = |e: wasmparser::BinaryReaderError| ComplexityError::Invalid(e.to_string());
    let mut shape = CodeShape::default();
    for payload in Parser::new(0).parse_all(bytes) {
        let Payload::CodeSectionEntry(body) = payload.map_err(invalid)? else {
            continue;
        };
        shape.functions += 1;
        let mut locals = 0u64;
        let mut reader = body.get_locals_reader().map_err(invalid)?;
        for _ in 0..reader.get_count() {
            let (count, _) = reader.read().map_err(invalid)?;
            locals = locals.saturating_add(u64::from(count));
        }
        shape.total_locals = shape.total_locals.saturating_add(locals);
        shape.max_locals = shape.max_locals.max(locals);
        shape.max_body_bytes = shape.max_body_bytes.max(body.range().len() as u64);
        shape.max_nesting = shape.max_nesting.max(nesting(&body).map_err(invalid)?);
    }
    Ok(shape)
}

/// The deepest block nesting in one body.
fn nesting(body: &wasmparser::FunctionBody<'_>) -> wasmparser::Result<u64> {
    use wasmparser::Operator;
    let mut reader = body.get_operators_reader()?;
    let (mut depth, mut deepest) = (0u64, 0u64);
    while !reader.eof() {
        match reader.read()? {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::TryTable { .. }
            | Operator::Try { .. } => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Operator::End => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(deepest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module_with(functions: usize, locals: usize, nesting: usize) -> Vec<u8> {
        let body = format!(
            "(func (local {}) {}{})",
            "i32 ".repeat(locals),
            "(block ".repeat(nesting),
            ")".repeat(nesting)
        );
        wat::parse_str(format!("(module {})", body.repeat(functions))).unwrap()
    }

    #[test]
    fn shapes_are_measured_across_a_components_modules() {
        let shape = check(&module_with(3, 4, 5)).unwrap();
        assert_eq!(
            shape,
            CodeShape {
                functions: 3,
                total_locals: 12,
                max_locals: 4,
                max_body_bytes: shape.max_body_bytes,
                max_nesting: 5,
            }
        );
        let component = wat::parse_str(
            "(component (core module (func) (func)) (core module (func (local i64 i64))))",
        )
        .unwrap();
        let shape = check(&component).unwrap();
        assert_eq!((shape.functions, shape.total_locals), (3, 2));
    }

    #[test]
    fn each_bound_is_named_when_broken() {
        let cases: [(Vec<u8>, &str); 3] = [
            (
                module_with(1, MAX_COMPILE_LOCALS_PER_FUNCTION as usize + 1, 0),
                "the number of locals in one function",
            ),
            (
                module_with(1, 0, MAX_COMPILE_BLOCK_NESTING as usize + 1),
                "the block nesting depth in one function",
            ),
            (
                wat::parse_str(format!(
                    "(module {})",
                    "(func)".repeat(MAX_COMPILE_FUNCTIONS as usize + 1)
                ))
                .unwrap(),
                "the number of functions",
            ),
        ];
        for (bytes, what) in cases {
            match check(&bytes) {
                Err(ComplexityError::TooCostly { what: got, .. }) => assert_eq!(got, what),
                other => panic!("{what}: {other:?}"),
            }
        }
        assert!(matches!(
            check(b"\0asm\x01\0\0\0\x0a"),
            Err(ComplexityError::Invalid(_))
        ));
    }
}
