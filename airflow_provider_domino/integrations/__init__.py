"""What a finished job hands to the rest of Airflow: asset-event extras and OpenLineage facets."""
