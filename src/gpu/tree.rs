//! The tree kernel's host side: `shaders/tree.wgsl` over a [`TreeView`].

use super::GpuContext;
use crate::error::{Error, Result};
use crate::rule::{Recovery, Rule};
use crate::tree::batch::{TreeResult, TreeView};

impl GpuContext {
    /// Verifies every round of a validated tree batch under a tree rule.
    pub fn run_tree(&mut self, view: &TreeView, rule: Rule, rec: Recovery) -> Result<TreeResult> {
        let _ = (view, rule, rec);
        Err(Error::Config(
            "the GPU engine does not run tree rules yet".into(),
        ))
    }
}
