import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // Machines are pure: they may import only xstate and src/domain.
    files: ['machines/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'ky', 'ws', 'undici', 'pino', 'fs', 'http', 'https', 'net', 'tls'], message: 'Machines are pure: inject effects with .provide().' },
          { group: ['../src/adapters/*', '../src/simulators/*', '../src/config/*'], message: 'Machines may import only xstate and src/domain.' },
        ],
      }],
    },
  },
);
