//! Record batch v2 codec (placeholder; filled in by the records work).
