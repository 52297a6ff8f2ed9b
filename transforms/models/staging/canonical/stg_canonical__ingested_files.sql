with

source as (

    select * from {{ source('raw', 'ingested_files') }}

),

final as (

    select

        ---------- text
        entity,

        ---------- numerics
        rows_loaded,
        rows_quarantined,

        ---------- lineage
        as_of_date,
        source_file,
        file_sha256,

    from source
    where as_of_date = {{ var_as_of_date() }}

)

select * from final
