function bridge_write_text(filename, S)
%BRIDGE_WRITE_TEXT  Write arrays and a request as a bridge text job file (.txt).
%   BRIDGE_WRITE_TEXT(FILENAME, S) writes every field of the struct S. The fields 'op' and
%   'shape' (text) become request lines '% op conv2', '% shape same'; every other field must be
%   a numeric or logical array and is written as a header line '% NAME CLASS [complex] SIZE'
%   followed by the rows of reshape(X, size(X,1), []): the real rows, then (complex only) the
%   imaginary rows. Doubles are written with %.17g and singles with %.9g, so reading the file
%   back gives the same bits; NaN, Inf and -Inf are written as such.
%
%   Example:
%     S.A = magic(4); S.B = [1 2; 3 4]; S.op = 'conv2'; S.shape = 'same';
%     bridge_write_text('in.txt', S)
%
%   Errors:
%     bridge:text:badInput     FILENAME is not text or S is not a scalar struct
%     bridge:text:badField     a field is neither numeric/logical nor a one-word op/shape
%     bridge:text:cannotOpen   the file cannot be created
if ~ischar(filename) && ~isa(filename, 'string')
  error('bridge:text:badInput', '%s', 'FILENAME must be text.');
end
if ~isstruct(S) || ~isscalar(S)
  error('bridge:text:badInput', '%s', 'S must be a scalar struct of arrays.');
end
names = fieldnames(S);
check_fields(S, names);
f = fopen(char(filename), 'w');
if f < 0
  error('bridge:text:cannotOpen', 'Cannot open %s for writing.', char(filename));
end
closer = onCleanup(@() fclose(f)); %#ok<NASGU> closes the file however we leave
fprintf(f, '%s\n', '% bridge text: ''% NAME CLASS [complex] SIZE'', then the rows of reshape(X, size(X,1), [])');
for k = 1:numel(names)
  if any(strcmp(names{k}, {'op', 'shape'}))
    fprintf(f, '%% %s %s\n', names{k}, char(S.(names{k})));
  end
end
for k = 1:numel(names)
  if ~any(strcmp(names{k}, {'op', 'shape'}))
    write_array(f, names{k}, S.(names{k}));
  end
end
end

function check_fields(S, names)
for k = 1:numel(names)
  x = S.(names{k});
  if any(strcmp(names{k}, {'op', 'shape'}))
    if ~(ischar(x) || isa(x, 'string')) || numel(strsplit(strtrim(char(x)))) ~= 1 || isempty(strtrim(char(x)))
      error('bridge:text:badField', 'Field ''%s'' must be one word of text, e.g. ''same''.', names{k});
    end
  elseif ~(isnumeric(x) || islogical(x))
    error('bridge:text:badField', 'Field ''%s'' is a %s; arrays must be numeric or logical.', ...
      names{k}, class(x));
  end
end
end

function write_array(f, name, x)
if issparse(x)
  x = full(x);
end
cls = class(x);
if isreal(x)
  kind = '';
else
  kind = ' complex';
end
fprintf(f, '%% %s %s%s%s\n', name, cls, kind, sprintf(' %d', size(x)));
if isempty(x)
  return
end
if isa(x, 'double')
  number = '%.17g';
elseif isa(x, 'single')
  number = '%.9g';
elseif islogical(x) || intmin(cls) == 0
  number = '%u';   % %d would print large uint64 values in floating point (Octave)
else
  number = '%d';
end
if islogical(x)
  x = uint8(x);
end
m = reshape(x, size(x, 1), []);
row = [repmat([number ' '], 1, size(m, 2) - 1) number '\n'];
fprintf(f, row, real(m).');
if ~isreal(x)
  fprintf(f, row, imag(m).');
end
end
