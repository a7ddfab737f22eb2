/** `per_page` of `GET /v1/event/sink/:id/deliveries`: its default and largest value (the CLI's flags say the same). */
export const DELIVERIES_PER_PAGE_DEFAULT = 50;
export const DELIVERIES_PER_PAGE_MAX = 500;
