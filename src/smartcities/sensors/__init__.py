"""City logging: sensor observations recorded in a DuckDB store, quality-checked, and turned into the indicators
table an index reads."""
