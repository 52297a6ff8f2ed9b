with

source as (

    select * from {{ source('raw', 'models') }}

),

final as (

    select

        ---------- ids
        model_id,
        model_version,
        component_id,

        ---------- text
        model_name,
        component_type,

        ---------- numerics
        weight as component_weight,

        ---------- lineage
        as_of_date,
        source_file,
        source_line,
        file_sha256,

    from source
    where as_of_date = {{ var_as_of_date() }}

)

select * from final
