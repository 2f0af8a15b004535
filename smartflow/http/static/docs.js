// The interactive API docs (/api/docs): Swagger UI over the caller's typed OpenAPI document.
// A file of its own, not an inline script, so the page runs under the Content-Security-Policy.
(function () {
  "use strict";
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,  // never ask a third-party validator about this API
    presets: [SwaggerUIBundle.presets.apis],
  });
})();
