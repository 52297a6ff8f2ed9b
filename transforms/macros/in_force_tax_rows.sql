{#-
    The rows of an effective-dated tax table in force for the as-of date's tax year.

    A row applies from its effective_tax_year until a row with a later year for the same key
    (`partition_by`: filing_status, state); before the first year we have, the earliest row applies.
    Used as the body of an import CTE.
-#}
{% macro in_force_tax_rows(relation, partition_by) %}
    select *
    from {{ relation }}
    qualify effective_tax_year = coalesce(
        max(
            case
                when effective_tax_year <= extract(year from {{ var_as_of_date() }})
                    then effective_tax_year
            end
        ) over (partition by {{ partition_by }}),
        min(effective_tax_year) over (partition by {{ partition_by }})
    )
{% endmacro %}
