{#- The sum of a DOUBLE column that is the same bits on every run. DuckDB sums DOUBLEs in parallel,
    in whatever order its threads finish, so the last bits of a sum (a household's market value, a
    position's lot quantity) could differ between two builds of the same rows, and the optimizer,
    handed a market value 1e-8 away, could pick another of two equally good trade lists: order files
    were not byte-identical on a rerun (docs/scale.md). Each value is rounded to 12 decimals (far
    below a cent or a share's millionth) and summed as a DECIMAL, which is exact, hence independent
    of the order; ``where`` is the aggregate's FILTER. -#}
{% macro exact_sum(expression, where=none) -%}
cast(sum(cast({{ expression }} as decimal(38, 12))){% if where %} filter (where {{ where }}){% endif %} as double)
{%- endmacro %}
