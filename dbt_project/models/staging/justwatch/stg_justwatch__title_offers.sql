{#
    One row per item of a node's offers list (the dlt child table
    titles__offers). `title_dlt_id` is the node's `dlt_id` in stg_justwatch__titles:
    intermediate models join on it, so each staging model reads exactly one source table.
#}
with

offers as (

    select * from {{ source('justwatch', 'titles__offers') }}

),

renamed as (

    select
        cast(offers._dlt_parent_id as {{ dbt.type_string() }}) as title_dlt_id,
        upper({{ clean_text('offers.monetization_type') }}) as monetization_type,
        upper({{ clean_text('offers.presentation_type') }}) as presentation_type,
        {{ clean_text('offers.package_clear_name') }} as package_name,
        lower({{ clean_text('offers.package_short_name') }}) as package_short_name,
        cast(offers._dlt_list_idx as integer) as list_position

    from offers

),

final as (

    select
        title_dlt_id,
        monetization_type,
        presentation_type,
        package_name,
        package_short_name,
        list_position

    from renamed

    where package_name is not null

)

select * from final
