// Validates an OpenAPI document with @apidevtools/swagger-parser: the OpenAPI 3.0 JSON schema, then the
// specification's own rules (unique operationIds, path parameters declared, $refs that resolve).
//   node validate.mjs FILE     exit 0 and "valid: <title> <version>", or exit 1 and the validator's errors
import SwaggerParser from "@apidevtools/swagger-parser";

const file = process.argv[2];
if (!file) {
    console.error("usage: node validate.mjs FILE");
    process.exit(2);
}
try {
    const api = await SwaggerParser.validate(file);
    console.log(`valid: ${api.info.title} ${api.info.version} (OpenAPI ${api.openapi})`);
} catch (e) {
    console.error(e.message);
    process.exit(1);
}
