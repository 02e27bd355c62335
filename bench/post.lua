-- wrk: POST one order, as a client of the course's route would.
wrk.method = "POST"
wrk.body = '{"productId":"CATALOG-001","qty":1,"unitPrice":1000}'
wrk.headers["Content-Type"] = "application/json"
