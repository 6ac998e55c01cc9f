"""The index online: the documents every face reads (`bundle`), the what-if model (`whatif`), the static site,
the REST API (`api`) and the printed report."""
