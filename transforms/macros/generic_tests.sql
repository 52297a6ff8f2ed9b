{#-
    Generic tests we would otherwise take from dbt_utils (hub.getdbt.com is not reachable here).
    Each returns the failing rows; zero rows = pass.
-#}

{#-
    expression_is_true: rows where `expression` is not true.
    - model level:  expression is a full boolean expression over the model's columns.
    - column level: expression is appended to the column (`expression: "> 0"`).
    - group_by_columns: evaluate the expression per group (aggregates allowed), e.g.
      expression "abs(sum(target_weight) - 1) < 1e-6", group_by_columns [household_id].
    Nulls count as failures (`not coalesce(expr, false)`), unlike a bare `where not expr`.
-#}
{% test expression_is_true(model, expression, column_name=none, group_by_columns=none) %}

{%- set expr = (column_name ~ ' ' ~ expression) if column_name else expression -%}

{%- if group_by_columns %}

select
    {{ group_by_columns | join(',\n    ') }},
from {{ model }}
group by {{ group_by_columns | join(', ') }}
having not coalesce({{ expr }}, false)

{%- else %}

select *
from {{ model }}
where not coalesce({{ expr }}, false)

{%- endif %}

{% endtest %}


{#- unique_combination_of_columns: combinations of `combination_of_columns` that occur more than once. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(',\n    ') }},
    count(*) as n_rows,
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
