import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// One schema library: the schemas that validate requests also generate /openapi.json.
extendZodWithOpenApi(z);

export { z };
