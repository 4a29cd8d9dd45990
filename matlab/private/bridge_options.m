function [args, python] = bridge_options(args)
%BRIDGE_OPTIONS  Split a trailing 'Python', PATH pair off a wrapper's arguments.
%   [ARGS, PYTHON] = BRIDGE_OPTIONS(ARGS) returns the arguments without the pair and PATH, or ''
%   when the pair is absent. 'Python' is matched case-insensitively and only as the next-to-last
%   argument, so that no operand or SHAPE can be mistaken for it.
python = '';
if numel(args) >= 2 && bridge_istext(args{end - 1}) && strcmpi(char(args{end - 1}), 'Python')
  python = args{end};
  args(end - 1:end) = [];
  if ~bridge_istext(python) || isempty(char(python))
    error('bridge:badOption', '%s', ...
      'The ''Python'' option needs the interpreter as text, e.g. ''/usr/bin/python3''.');
  end
  python = char(python);
end
end
