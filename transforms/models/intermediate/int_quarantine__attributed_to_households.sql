-- Quarantined rows of the as-of date with the household they belong to, when it can be told.
-- A quarantined accounts row still names its household: the canonical line's second field.
-- Rows of account-level files (var account_level_entities) that cannot be attributed are
-- firm-wide: the readiness mart holds every household on them (tax safety first).

with

quarantine as (

    select * from {{ ref('stg_canonical__quarantine') }}

),

ingested_files as (

    select * from {{ ref('stg_canonical__ingested_files') }}

),

accounts as (

    select * from {{ ref('stg_canonical__accounts') }}

),

file_entities as (

    select distinct
        source_file,
        entity,

    from ingested_files

),

quarantine_with_entity as (

    select
        -- the parser keeps a blank account field as ''
        nullif(trim(quarantine.account_id), '') as account_id,
        quarantine.* exclude (account_id),
        coalesce(
            file_entities.entity,
            nullif(regexp_extract(quarantine.source_file, '([a-z_]+)_[0-9]{8}\.csv$', 1), '')
        ) as entity,

    from quarantine
    left join file_entities
        on quarantine.source_file = file_entities.source_file

),

quarantined_account_households as (

    select distinct
        account_id,
        nullif(trim(string_split(raw_line, ',')[2]), '') as household_id,

    from quarantine_with_entity
    where entity = 'accounts'
        and account_id is not null
        and source_line > 1

),

account_households as (

    select
        account_id,
        household_id,

    from accounts

    union

    select
        account_id,
        household_id,

    from quarantined_account_households
    where household_id is not null

),

final as (

    select
        ---------- ids
        account_households.household_id,
        quarantine_with_entity.account_id,

        ---------- what was rejected
        quarantine_with_entity.entity,
        quarantine_with_entity.field_name,
        quarantine_with_entity.error_message,
        coalesce(
            quarantine_with_entity.entity in (
                {%- for entity in var('account_level_entities') %}
                '{{ entity }}'{{ ',' if not loop.last }}
                {%- endfor %}
            ),
            true
        ) as is_account_level,

        ---------- lineage
        quarantine_with_entity.as_of_date,
        quarantine_with_entity.source_file,
        quarantine_with_entity.source_line,

    from quarantine_with_entity
    left join account_households
        on quarantine_with_entity.account_id = account_households.account_id

)

select * from final
