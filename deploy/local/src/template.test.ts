import { describe, expect, it } from 'vitest';
import { renderProperties, renderTemplate } from './template.js';

describe('renderTemplate', () => {
  it('fills {{NAME}} placeholders and leaves nginx variables alone', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: nginx's ${var} syntax must pass through
    const out = renderTemplate('listen 127.0.0.1:{{PORT_NGINX}}; set $key "${uri}"; root {{ STATE_DIR }};', {
      PORT_NGINX: 18080,
      STATE_DIR: '/s',
    });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: as above
    expect(out).toBe('listen 127.0.0.1:18080; set $key "${uri}"; root /s;');
  });

  it('names every unknown placeholder instead of rendering it empty', () => {
    expect(() => renderTemplate('{{A}} {{B}} {{B}}', { C: 1 })).toThrow(/\{\{A\}\}, \{\{B\}\}; known: C/);
  });
});

describe('renderProperties', () => {
  it('writes key=value lines', () => {
    expect(renderProperties({ 'node.id': 1, 'auto.create.topics.enable': false, a: 'x' })).toBe(
      'node.id=1\nauto.create.topics.enable=false\na=x\n',
    );
  });
});
