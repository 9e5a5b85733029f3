//! Exact expectations of the tree rules given the rows (SPEC §7), with the children's tokens
//! random as each rule assumes and the coins uniform: what the studies overlay.
