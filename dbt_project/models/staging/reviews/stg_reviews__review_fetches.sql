with

source as (

    select * from {{ source('reviews', 'review_fetches') }}

),

renamed as (

    select
        {{ clean_text('title_id') }} as title_id,
        lower({{ clean_text('source') }}) as source_name,
        lower({{ clean_text('status') }}) as fetch_status,
        {{ clean_text('reason') }} as fetch_reason,
        cast(reviews_found as integer) as reviews_found,
        cast(fetched_at as timestamp with time zone) as fetched_at

    from source

)

select * from renamed
