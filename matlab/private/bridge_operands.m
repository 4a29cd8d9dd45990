function values = bridge_operands(values, separable)
%BRIDGE_OPERANDS  Refuse operands that cannot travel in a MAT v7 file: objects (string, table...).
%   MATLAB's conv2 refuses them with MATLAB:conv2:inputType (MATLAB:conv2:inputTypeSeparable in
%   conv2(u, v, A)), and so does this, without starting Python. Everything else (char, cell,
%   struct, sparse included) goes to the worker, which answers as MATLAB does.
for k = 1:numel(values)
  if isobject(values{k})
    if nargin > 1 && separable
      error('MATLAB:conv2:inputTypeSeparable', '%s', ...
        'Invalid data type. HCOL, HROW and A must be numeric or logical.');
    end
    error('MATLAB:conv2:inputType', '%s', ...
      'Invalid data type. First and second arguments must be numeric or logical.');
  end
end
end
