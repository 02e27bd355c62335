-- wrk: the same order as post.lua, each request with a fresh Idempotency-Key, as a client
-- that may retry sends it (a key never seen before: every request places an order).
wrk.method = "POST"
wrk.body = '{"productId":"CATALOG-001","qty":1,"unitPrice":1000}'
wrk.headers["Content-Type"] = "application/json"

math.randomseed(os.time())
local run = tostring(math.random(1, 2147483647))
local sent = 0

request = function()
  sent = sent + 1
  wrk.headers["Idempotency-Key"] = run .. "-" .. sent
  return wrk.format()
end
