// Starts Swagger UI from data attributes (the page allows no inline script).
window.addEventListener("load", function () {
  var container = document.getElementById("swagger-ui-container");
  var config = { url: container.dataset.specUrl, dom_id: "#swagger-ui-container" };
  var extra = JSON.parse(container.dataset.config || "{}");
  Object.keys(extra).forEach(function (key) { config[key] = extra[key]; });
  window.ui = SwaggerUIBundle(config);
});
